/** A list item's tags as chips; choosing one filters the list by it. */
export function TagChips({ tags, onPick }: { tags: readonly string[]; onPick: (tag: string) => void }) {
  return (
    <span class="counts">
      {tags.map((tag) => (
        <button
          key={tag}
          type="button"
          class="chip tag"
          title={`Only those tagged ${tag}`}
          data-tag={tag}
          onClick={() => onPick(tag)}
        >
          {tag}
        </button>
      ))}
    </span>
  );
}
