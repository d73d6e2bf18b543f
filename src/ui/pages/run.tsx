import { useEffect, useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import { ForkPanel } from "../components/fork-panel.tsx";
import { GrowthTimeline } from "../components/growth-timeline.tsx";
import { colorAt, LineChart } from "../components/line-chart.tsx";
import { Link } from "../components/link.tsx";
import { ModelDownload } from "../components/model-download.tsx";
import { SearchScatter } from "../components/search-scatter.tsx";
import { errorText, useLoad } from "../load.ts";
import { applyEvent, EMPTY_RUN_VIEW, emaNames, type RunView } from "../run-state.ts";
import { followRunStream, type StreamStatus } from "../run-stream.ts";
import { useSession } from "../session.ts";

/**
 * One run, live: its events replayed from the start and then followed over SSE, folded into the
 * curves (loss; train, online and EMA accuracy; images/s), the growth timeline, each stage's
 * search and the event log.
 */
export function RunPage({ id }: { id: string }) {
  const { client } = useSession();
  const run = useLoad(() => client.GET("/v1/runs/{id}", { params: { path: { id } } }).then(unwrap), [id]);
  const [view, setView] = useState<RunView>(EMPTY_RUN_VIEW);
  const [status, setStatus] = useState<{ status: StreamStatus; detail?: string }>({ status: "connecting" });
  const [cancelError, setCancelError] = useState<string | null>(null);

  useEffect(() => {
    setView(EMPTY_RUN_VIEW);
    return followRunStream(client, id, 0, {
      onEvent: (seq, event) => setView((current) => applyEvent(current, seq, event)),
      onStatus: (next, detail) => setStatus(detail ? { status: next, detail } : { status: next }),
    });
  }, [client, id]);

  const ended = status.status === "ended" || view.outcome !== null;
  const cancel = async () => {
    setCancelError(null);
    try {
      unwrap(await client.POST("/v1/runs/{id}/cancel", { params: { path: { id } } }));
    } catch (caught) {
      setCancelError(errorText(caught));
    }
  };

  const epochs = view.epochs.map((p) => p.epoch);
  const emas = emaNames(view.epochs);
  return (
    <main>
      <div class="title-row">
        <h1>Run {run.data ? `${run.data.label} seed ${run.data.seed}` : ""}</h1>
        <button type="button" class="danger" onClick={() => void cancel()} disabled={ended}>
          Cancel run
        </button>
      </div>
      <p class="muted mono">
        {id}
        {run.data && (
          <>
            {" · "}
            <Link to={{ page: "experiment", id: run.data.experimentId }}>experiment</Link>
          </>
        )}
        {run.data?.forkOf && (
          <>
            {" · fork of "}
            <Link to={{ page: "run", id: run.data.forkOf.runId }}>{run.data.forkOf.runId}</Link>
            {` after epoch ${run.data.forkOf.epoch}`}
          </>
        )}
      </p>
      <p class="status" role="status" data-testid="stream-status" data-status={status.status}>
        <span class={`chip stream-${status.status}`}>{status.status}</span> {view.lastSeq} events
        {view.outcome && (
          <span data-testid="outcome" class={`chip state-${view.outcome.state}`}>
            {view.outcome.state}: {view.outcome.text}
          </span>
        )}
        {status.detail && <span class="muted"> ({status.detail})</span>}
      </p>
      {(run.error || cancelError) && (
        <p class="error" role="alert">
          {cancelError ?? run.error}
        </p>
      )}
      <div class="charts">
        <LineChart
          title="Training loss"
          xLabel="epoch"
          yLabel="loss"
          x={epochs}
          series={[{ label: "train loss", color: colorAt(0), values: view.epochs.map((p) => p.trainLoss) }]}
          testId="loss-chart"
        />
        <LineChart
          title="Accuracy"
          xLabel="epoch"
          yLabel="%"
          x={epochs}
          series={[
            { label: "train", color: colorAt(0), values: view.epochs.map((p) => p.trainAccuracy * 100) },
            {
              label: "test, online",
              color: colorAt(1),
              values: view.epochs.map((p) => (p.online === null ? null : p.online * 100)),
            },
            ...emas.map((name, i) => ({
              label: `test, EMA ${name}`,
              color: colorAt(i + 2),
              dash: [6, 4],
              values: view.epochs.map((p) => (p.ema[name] === undefined ? null : (p.ema[name] ?? 0) * 100)),
            })),
          ]}
          testId="accuracy-chart"
        />
        <LineChart
          title="Throughput"
          xLabel="epoch"
          yLabel="images/s"
          x={epochs}
          series={[
            { label: "images/s", color: colorAt(2), values: view.epochs.map((p) => p.imagesPerSecond) },
          ]}
          testId="throughput-chart"
        />
      </div>
      <GrowthTimeline stages={view.stages} />
      <ModelDownload runId={id} emas={emas} checkpointEpoch={view.checkpointEpoch} />
      <ForkPanel runId={id} stages={view.stages} />
      <section class="panel" aria-labelledby="search-title">
        <h2 id="search-title">Searches</h2>
        {view.searches.length === 0 ? (
          <p class="muted">No search (yet): only the autoprog arm searches, at each stage boundary.</p>
        ) : (
          <div class="scatters">
            {view.searches.map((s) => (
              <SearchScatter key={s.stage} search={s} />
            ))}
          </div>
        )}
      </section>
      <section class="panel" aria-labelledby="log-title">
        <h2 id="log-title">Events</h2>
        <ol class="log" aria-label="Event log, newest first" data-testid="event-log">
          {view.log.map((line) => (
            <li key={line.seq} data-seq={line.seq}>
              <span class="mono muted">#{line.seq}</span> <span class="mono">{line.type}</span> {line.text}
            </li>
          ))}
        </ol>
      </section>
    </main>
  );
}
