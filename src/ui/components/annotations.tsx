import { useEffect, useState } from "preact/hooks";
import { errorText } from "../load.ts";

/** What PATCH takes for an experiment or a run: each part given replaces the stored one. */
export interface AnnotationsPatch {
  readonly tags?: string[];
  readonly note?: string | null;
}

/** A tag as the API accepts it: no commas, no space at either end, at most 64 characters. */
export function tagProblem(tag: string, tags: readonly string[]): string | null {
  if (tag === "") return "type a tag first";
  if (tag.includes(",")) return "a tag has no commas";
  if (tag.length > 64) return "a tag has at most 64 characters";
  if (tags.includes(tag)) return `already tagged ${tag}`;
  return null;
}

/**
 * Tags and a note on an experiment or a run (`PATCH /v1/experiments/{id}`, `/v1/runs/{id}`): a
 * chip per tag with its remove button, a field that adds one, and the note with its Save button.
 * Each change is sent at once and the stored answer shown; lists filter and search by both.
 */
export function Annotations({
  what,
  tags,
  note,
  save,
}: {
  what: string;
  tags: readonly string[];
  note: string | null;
  save: (patch: AnnotationsPatch) => Promise<{ tags: string[]; note: string | null }>;
}) {
  const [stored, setStored] = useState({ tags: [...tags], note });
  const [draftTag, setDraftTag] = useState("");
  const [draftNote, setDraftNote] = useState(note ?? "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setStored({ tags: [...tags], note });
    setDraftNote(note ?? "");
  }, [tags.join(","), note]);

  const send = async (patch: AnnotationsPatch) => {
    setBusy(true);
    setError(null);
    try {
      const saved = await save(patch);
      setStored({ tags: saved.tags, note: saved.note });
      setDraftNote(saved.note ?? "");
      return true;
    } catch (caught) {
      setError(errorText(caught));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const addTag = async (event: Event) => {
    event.preventDefault();
    const tag = draftTag.trim();
    const problem = tagProblem(tag, stored.tags);
    if (problem) return setError(problem);
    if (await send({ tags: [...stored.tags, tag] })) setDraftTag("");
  };

  return (
    <section class="panel annotations" aria-label={`Tags and note of this ${what}`} data-testid="annotations">
      <div class="inline">
        <strong>Tags</strong>
        <ul class="tags" aria-label={`Tags of this ${what}`}>
          {stored.tags.map((tag) => (
            <li key={tag} class="chip tag" data-tag={tag}>
              {tag}{" "}
              <button
                type="button"
                class="link"
                aria-label={`Remove tag ${tag}`}
                disabled={busy}
                onClick={() => void send({ tags: stored.tags.filter((t) => t !== tag) })}
              >
                ×
              </button>
            </li>
          ))}
          {stored.tags.length === 0 && <li class="muted">none</li>}
        </ul>
        <form class="inline" onSubmit={addTag}>
          <label class="visually-hidden" for={`${what}-new-tag`}>
            New tag
          </label>
          <input
            id={`${what}-new-tag`}
            placeholder="new tag"
            maxLength={64}
            value={draftTag}
            onInput={(e) => setDraftTag(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy || draftTag.trim() === ""}>
            Add tag
          </button>
        </form>
      </div>
      <div class="field">
        <label for={`${what}-note`}>Note</label>
        <textarea
          id={`${what}-note`}
          rows={2}
          maxLength={10_000}
          value={draftNote}
          onInput={(e) => setDraftNote(e.currentTarget.value)}
        />
      </div>
      <div class="inline">
        <button
          type="button"
          disabled={busy || draftNote === (stored.note ?? "")}
          onClick={() => void send({ note: draftNote.trim() === "" ? null : draftNote })}
        >
          Save note
        </button>
        {error && (
          <span class="error-text" role="alert">
            {error}
          </span>
        )}
      </div>
    </section>
  );
}
