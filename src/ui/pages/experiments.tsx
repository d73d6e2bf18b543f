import { useEffect, useRef, useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import type { components } from "../../client/index.ts";
import { FilterBar, useUrlFilters } from "../components/filter-bar.tsx";
import { Link } from "../components/link.tsx";
import { StateCounts } from "../components/state-counts.tsx";
import { TagChips } from "../components/tag-chips.tsx";
import { experimentQuery, filtering } from "../filters.ts";
import { dateTime } from "../format.ts";
import { errorText } from "../load.ts";
import { useSession } from "../session.ts";

type Summary = components["schemas"]["ExperimentSummary"];
const PAGE_SIZE = 20;

/**
 * Experiments, newest first (or oldest), filtered by text, tags and creation day, a page at a
 * time with the API's cursor ("Load more"). The filters live in the URL.
 */
export function Experiments() {
  const { client } = useSession();
  const [filters, setFilters] = useUrlFilters();
  const [items, setItems] = useState<Summary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Answers to an older filter are dropped when a newer one was asked since.
  const asked = useRef(0);

  const loadPage = async (after: string | null) => {
    const ticket = ++asked.current;
    setLoading(true);
    try {
      const page = unwrap(
        await client.GET("/v1/experiments", {
          params: {
            query: { limit: PAGE_SIZE, ...experimentQuery(filters), ...(after ? { cursor: after } : {}) },
          },
        }),
      );
      if (ticket !== asked.current) return;
      setItems((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setDone(page.nextCursor === null);
      setError(null);
    } catch (caught) {
      if (ticket === asked.current) setError(errorText(caught));
    } finally {
      if (ticket === asked.current) setLoading(false);
    }
  };
  useEffect(() => void loadPage(null), [JSON.stringify(filters)]);
  const pickTag = (tag: string) =>
    filters.tags.includes(tag) || setFilters({ ...filters, tags: [...filters.tags, tag] });

  return (
    <main>
      <div class="title-row">
        <h1>Experiments</h1>
        <span class="inline">
          <Link to={{ page: "runs" }}>All runs</Link>
          <Link to={{ page: "new" }}>New experiment</Link>
        </span>
      </div>
      <FilterBar key={JSON.stringify(filters)} filters={filters} onChange={setFilters} />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Experiments" aria-busy={loading}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Tags</th>
              <th scope="col">Created</th>
              <th scope="col">Runs</th>
              <th scope="col">States</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.id} data-testid="experiment-row" data-name={e.name}>
                <td>
                  <Link to={{ page: "experiment", id: e.id }}>{e.name}</Link>
                  <div class="muted mono">{e.id}</div>
                  {e.note && <div class="muted note">{e.note}</div>}
                </td>
                <td>
                  <TagChips tags={e.tags} onPick={pickTag} />
                </td>
                <td>{dateTime(e.createdAt)}</td>
                <td>{e.runCounts.total}</td>
                <td>
                  <StateCounts counts={e.runCounts} />
                </td>
              </tr>
            ))}
            {!loading && items.length === 0 && !error && (
              <tr>
                <td colSpan={5} class="muted">
                  {filtering(filters) ? (
                    "No experiment matches these filters."
                  ) : (
                    <>
                      No experiment yet. <Link to={{ page: "new" }}>Submit one.</Link>
                    </>
                  )}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {!done && (
        <button type="button" onClick={() => void loadPage(cursor)} disabled={loading || cursor === null}>
          {loading ? "Loading…" : "Load more"}
        </button>
      )}
    </main>
  );
}
