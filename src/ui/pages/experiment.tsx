import { useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import { Annotations, type AnnotationsPatch } from "../components/annotations.tsx";
import { LineChart } from "../components/line-chart.tsx";
import { Link } from "../components/link.tsx";
import { NotFound } from "../components/not-found.tsx";
import { ReportTable, reportCsv } from "../components/report-table.tsx";
import { alignCurves, loadRunCurve } from "../curves.ts";
import { downloadCsv } from "../download.ts";
import { dateTime, percent } from "../format.ts";
import { errorText, useLoad } from "../load.ts";
import { useSession } from "../session.ts";

const ACTIVE = new Set(["queued", "running"]);

function cancelLabel(cancelling: boolean, active: number): string {
  if (cancelling) return "Cancelling…";
  return active === 0 ? "No active run" : `Cancel ${active} active run${active === 1 ? "" : "s"}`;
}

/**
 * One experiment: its report as the paper's table, test top-1 against seconds for every run, its
 * runs, and a cancel button. Refreshed every 3 s while a run is queued or running.
 */
export function ExperimentPage({ id }: { id: string }) {
  const { client } = useSession();
  const [cancelling, setCancelling] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const loaded = useLoad(
    async () => {
      const [experiment, report] = await Promise.all([
        client.GET("/v1/experiments/{id}", { params: { path: { id } } }).then(unwrap),
        client.GET("/v1/experiments/{id}/report", { params: { path: { id } } }).then(unwrap),
      ]);
      const curves = await Promise.all(
        experiment.runs.map((r) => loadRunCurve(client, r.id, `${r.label} seed ${r.seed}`)),
      );
      return { experiment, report, curves };
    },
    [id],
    { everyMs: 3000, while: (d) => d.experiment.runs.some((r) => ACTIVE.has(r.state)) },
  );
  const { data, error } = loaded;
  if (loaded.errorStatus === 404) return <NotFound what="experiment" id={id} />;
  const active = data?.experiment.runs.filter((r) => ACTIVE.has(r.state)) ?? [];

  const cancel = async () => {
    setCancelling(true);
    setActionError(null);
    try {
      for (const run of active) {
        unwrap(await client.POST("/v1/runs/{id}/cancel", { params: { path: { id: run.id } } }));
      }
      loaded.reload();
    } catch (caught) {
      setActionError(errorText(caught));
    } finally {
      setCancelling(false);
    }
  };

  const chart = alignCurves(data?.curves ?? []);
  return (
    <main class="wide">
      <div class="title-row">
        <h1>{data?.experiment.name ?? "Experiment"}</h1>
        <button
          type="button"
          class="danger"
          onClick={() => void cancel()}
          disabled={cancelling || active.length === 0}
        >
          {cancelLabel(cancelling, active.length)}
        </button>
      </div>
      <p class="muted mono">{id}</p>
      {data?.experiment.description && <p>{data.experiment.description}</p>}
      {data && (
        <Annotations
          what="experiment"
          tags={data.experiment.tags}
          note={data.experiment.note}
          save={async (body: AnnotationsPatch) =>
            unwrap(await client.PATCH("/v1/experiments/{id}", { params: { path: { id } }, body }))
          }
        />
      )}
      {(error || actionError) && (
        <p class="error" role="alert">
          {actionError ?? error}
        </p>
      )}
      <section class="panel" aria-labelledby="report-title">
        <div class="title-row">
          <h2 id="report-title">Report</h2>
          <button
            type="button"
            disabled={!data}
            onClick={() => data && downloadCsv(`${id}-report.csv`, reportCsv(data.report))}
          >
            Export report (CSV)
          </button>
        </div>
        {data?.report.initFrom && (
          <p class="muted" data-testid="init-from">
            Every run started from the {data.report.initFrom.weights} weights of run{" "}
            <Link to={{ page: "run", id: data.report.initFrom.runId }}>{data.report.initFrom.runId}</Link>.
          </p>
        )}
        {data ? <ReportTable report={data.report} /> : <p class="muted reserve-table">Loading…</p>}
      </section>
      <section class="panel">
        <LineChart
          title="Test top-1 against training seconds, every run"
          xLabel="seconds (sum of epoch times)"
          yLabel="top-1 %"
          x={chart.x}
          series={chart.series}
          testId="experiment-chart"
        />
      </section>
      <section class="panel" aria-labelledby="runs-title">
        <div class="title-row">
          <h2 id="runs-title">Runs</h2>
          {data && data.experiment.runs.length > 0 && (
            <Link to={{ page: "compare", runs: data.experiment.runs.map((r) => r.id) }}>
              Compare these runs
            </Link>
          )}
        </div>
        <div class="table-wrap">
          <table aria-label="Runs of this experiment">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Arm</th>
                <th scope="col">Seed</th>
                <th scope="col">State</th>
                <th scope="col">Epochs</th>
                <th scope="col">Top-1</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data?.experiment.runs.map((r) => (
                <tr key={r.id} data-testid="run-row">
                  <td>
                    <Link to={{ page: "run", id: r.id }}>{r.id}</Link>
                  </td>
                  <td>{r.label}</td>
                  <td>{r.seed}</td>
                  <td>
                    <span class={`chip state-${r.state}`}>{r.state}</span>
                  </td>
                  <td>
                    {r.epochsCompleted}/{r.epochs}
                  </td>
                  <td>{percent(r.top1)}</td>
                  <td>{dateTime(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </main>
  );
}
