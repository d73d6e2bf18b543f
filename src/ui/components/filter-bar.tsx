import { useState } from "preact/hooks";
import {
  filtering,
  filtersFromSearch,
  type ListFilters,
  NO_FILTERS,
  RUN_STATES,
  type RunStateName,
  type Sort,
  searchOfFilters,
} from "../filters.ts";

/**
 * The filters above a list: text search, tags, creation days (UTC), order, and for runs their
 * states and arm. Text fields apply on Enter or "Apply"; the other controls at once.
 */
export function FilterBar({
  filters,
  onChange,
  runs,
}: {
  filters: ListFilters;
  onChange: (next: ListFilters) => void;
  /** The run list's extra filters (state, arm). */
  runs?: boolean;
}) {
  const [q, setQ] = useState(filters.q);
  const [tags, setTags] = useState(filters.tags.join(", "));
  const [arm, setArm] = useState(filters.arm);
  const typed = () => ({
    q: q.trim(),
    tags: tags
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean),
    arm: arm.trim(),
  });
  const apply = (event: Event) => {
    event.preventDefault();
    onChange({ ...filters, ...typed() });
  };
  const set = (patch: Partial<ListFilters>) => onChange({ ...filters, ...typed(), ...patch });
  const toggleState = (state: RunStateName) =>
    set({
      states: filters.states.includes(state)
        ? filters.states.filter((s) => s !== state)
        : [...filters.states, state],
    });

  return (
    <form class="filters" onSubmit={apply} aria-label="Filters" data-testid="filters">
      <div class="field">
        <label for="filter-q">Search</label>
        <input
          id="filter-q"
          type="search"
          placeholder={runs ? "experiment, arm or note" : "name or note"}
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="filter-tags">Tags (all of)</label>
        <input
          id="filter-tags"
          placeholder="baseline, paper"
          value={tags}
          onInput={(e) => setTags(e.currentTarget.value)}
        />
      </div>
      {runs && (
        <div class="field">
          <label for="filter-arm">Arm</label>
          <input
            id="filter-arm"
            placeholder="prog"
            value={arm}
            onInput={(e) => setArm(e.currentTarget.value)}
          />
        </div>
      )}
      <div class="field">
        <label for="filter-since">Created from (UTC)</label>
        <input
          id="filter-since"
          type="date"
          value={filters.since}
          onChange={(e) => set({ since: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="filter-until">to</label>
        <input
          id="filter-until"
          type="date"
          value={filters.until}
          onChange={(e) => set({ until: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="filter-sort">Order</label>
        <select
          id="filter-sort"
          value={filters.sort}
          onChange={(e) => set({ sort: e.currentTarget.value as Sort })}
        >
          <option value="-createdAt">newest first</option>
          <option value="createdAt">oldest first</option>
        </select>
      </div>
      {runs && (
        <fieldset class="states">
          <legend>State</legend>
          {RUN_STATES.map((state) => (
            <label key={state}>
              <input
                type="checkbox"
                checked={filters.states.includes(state)}
                onChange={() => toggleState(state)}
              />{" "}
              {state}
            </label>
          ))}
        </fieldset>
      )}
      <div class="inline filter-actions">
        <button type="submit">Apply</button>
        <button
          type="button"
          disabled={!filtering(filters)}
          onClick={() => {
            setQ("");
            setTags("");
            setArm("");
            onChange(NO_FILTERS);
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}

/** Filters read from the URL once, and written back to it (replacing the entry) on each change. */
export function useUrlFilters(): [ListFilters, (next: ListFilters) => void] {
  const [filters, setFilters] = useState(() => filtersFromSearch(location.search));
  const update = (next: ListFilters) => {
    setFilters(next);
    history.replaceState(null, "", `${location.pathname}${searchOfFilters(next)}`);
  };
  return [filters, update];
}
