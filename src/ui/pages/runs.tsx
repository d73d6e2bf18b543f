import { useEffect, useRef, useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import type { components } from "../../client/index.ts";
import { FilterBar, useUrlFilters } from "../components/filter-bar.tsx";
import { Link } from "../components/link.tsx";
import { TagChips } from "../components/tag-chips.tsx";
import { filtering, runQuery } from "../filters.ts";
import { dateTime, percent } from "../format.ts";
import { errorText } from "../load.ts";
import { hrefOf, navigate } from "../router.ts";
import { useSession } from "../session.ts";

type Run = components["schemas"]["Run"];
const PAGE_SIZE = 50;

/**
 * Every run of the project across experiments (`GET /v1/runs`), filtered by text, tags, state,
 * arm and creation day, a page at a time; tick runs to compare them. The filters live in the URL.
 */
export function RunsPage() {
  const { client } = useSession();
  const [filters, setFilters] = useUrlFilters();
  const [items, setItems] = useState<Run[]>([]);
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [chosen, setChosen] = useState<readonly string[]>([]);
  const asked = useRef(0);

  const loadPage = async (after: string | null) => {
    const ticket = ++asked.current;
    setLoading(true);
    try {
      const page = unwrap(
        await client.GET("/v1/runs", {
          params: { query: { limit: PAGE_SIZE, ...runQuery(filters), ...(after ? { cursor: after } : {}) } },
        }),
      );
      if (ticket !== asked.current) return;
      setItems((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setError(null);
      // The experiments' names, once each.
      const unknown = [...new Set(page.items.map((r) => r.experimentId))].filter((id) => !names.has(id));
      const found = await Promise.all(
        unknown.map((id) =>
          client
            .GET("/v1/experiments/{id}", { params: { path: { id } } })
            .then(unwrap)
            .then((e) => [id, e.name] as const),
        ),
      );
      setNames((current) => new Map([...current, ...found]));
    } catch (caught) {
      if (ticket === asked.current) setError(errorText(caught));
    } finally {
      if (ticket === asked.current) setLoading(false);
    }
  };
  useEffect(() => void loadPage(null), [JSON.stringify(filters)]);
  const pickTag = (tag: string) =>
    filters.tags.includes(tag) || setFilters({ ...filters, tags: [...filters.tags, tag] });
  const toggle = (id: string) =>
    setChosen((current) => (current.includes(id) ? current.filter((r) => r !== id) : [...current, id]));

  return (
    <main class="wide">
      <div class="title-row">
        <h1>Runs</h1>
        <button
          type="button"
          class="primary"
          disabled={chosen.length === 0}
          onClick={() => navigate(hrefOf({ page: "compare", runs: chosen }))}
        >
          Compare {chosen.length || ""} selected
        </button>
      </div>
      <FilterBar key={JSON.stringify(filters)} filters={filters} onChange={setFilters} runs />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Runs" aria-busy={loading} data-testid="runs-table">
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Compare</span>
              </th>
              <th scope="col">Run</th>
              <th scope="col">Experiment</th>
              <th scope="col">State</th>
              <th scope="col">Epochs</th>
              <th scope="col">Top-1</th>
              <th scope="col">Tags</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => {
              const experiment = names.get(r.experimentId) ?? r.experimentId;
              return (
                <tr key={r.id} data-testid="run-row" data-run={r.id} data-state={r.state}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Compare ${experiment} ${r.label} seed ${r.seed}`}
                      checked={chosen.includes(r.id)}
                      onChange={() => toggle(r.id)}
                    />
                  </td>
                  <td>
                    <Link to={{ page: "run", id: r.id }}>
                      {r.label} seed {r.seed}
                    </Link>
                    <div class="muted mono">{r.id}</div>
                    {r.note && <div class="muted note">{r.note}</div>}
                  </td>
                  <td>
                    <Link to={{ page: "experiment", id: r.experimentId }}>{experiment}</Link>
                  </td>
                  <td>
                    <span class={`chip state-${r.state}`}>{r.state}</span>
                  </td>
                  <td>
                    {r.epochsCompleted}/{r.epochs}
                  </td>
                  <td>{percent(r.top1)}</td>
                  <td>
                    <TagChips tags={r.tags} onPick={pickTag} />
                  </td>
                  <td>{dateTime(r.createdAt)}</td>
                </tr>
              );
            })}
            {!loading && items.length === 0 && !error && (
              <tr>
                <td colSpan={8} class="muted">
                  {filtering(filters) ? "No run matches these filters." : "No run yet."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {cursor !== null && (
        <button type="button" onClick={() => void loadPage(cursor)} disabled={loading}>
          {loading ? "Loading…" : "Load more"}
        </button>
      )}
    </main>
  );
}
