import { useEffect, useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import type { components } from "../../client/index.ts";
import { Link } from "../components/link.tsx";
import { StateCounts } from "../components/state-counts.tsx";
import { dateTime } from "../format.ts";
import { errorText } from "../load.ts";
import { useSession } from "../session.ts";

type Summary = components["schemas"]["ExperimentSummary"];
const PAGE_SIZE = 20;

/** Experiments newest first, a page at a time with the API's cursor ("Load more"). */
export function Experiments() {
  const { client } = useSession();
  const [items, setItems] = useState<Summary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const loadPage = async (after: string | null) => {
    setLoading(true);
    try {
      const page = unwrap(
        await client.GET("/v1/experiments", {
          params: { query: { limit: PAGE_SIZE, ...(after ? { cursor: after } : {}) } },
        }),
      );
      setItems((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setDone(page.nextCursor === null);
      setError(null);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => void loadPage(null), []);

  return (
    <main>
      <div class="title-row">
        <h1>Experiments</h1>
        <Link to={{ page: "new" }}>New experiment</Link>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Experiments, newest first" aria-busy={loading}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Runs</th>
              <th scope="col">States</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.id} data-testid="experiment-row">
                <td>
                  <Link to={{ page: "experiment", id: e.id }}>{e.name}</Link>
                  <div class="muted mono">{e.id}</div>
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
                <td colSpan={4} class="muted">
                  No experiment yet. <Link to={{ page: "new" }}>Submit one.</Link>
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
