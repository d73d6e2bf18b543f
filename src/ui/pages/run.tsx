import { useEffect, useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import { afterEpochs } from "../../core/vocabulary.ts";
import { colorAt } from "../chart-data.ts";
import { epochStageMarkers } from "../compare.ts";
import { Annotations, type AnnotationsPatch } from "../components/annotations.tsx";
import { ForkPanel } from "../components/fork-panel.tsx";
import { GrowthTimeline } from "../components/growth-timeline.tsx";
import { LineChart } from "../components/line-chart.tsx";
import { Link } from "../components/link.tsx";
import { ModelDownload } from "../components/model-download.tsx";
import { NotFound } from "../components/not-found.tsx";
import { RunConfig } from "../components/run-config.tsx";
import { SearchScatter } from "../components/search-scatter.tsx";
import { toCsv } from "../csv.ts";
import { downloadCsv } from "../download.ts";
import { errorText, useLoad } from "../load.ts";
import { loadRunMetrics, metricsTable } from "../metrics.ts";
import { applyEvent, EMPTY_RUN_VIEW, emaNames, type RunView } from "../run-state.ts";
import { followRunStream, type StreamStatus } from "../run-stream.ts";
import { useSession } from "../session.ts";

/** States a run can still be cancelled in, and those it can be paused in. */
const CANCELLABLE = new Set(["queued", "running", "paused"]);
const PAUSABLE = new Set(["queued", "running"]);

/**
 * The run's state now: as loaded, then as its events since say (a pause or a resume, its end).
 * The stream replays the whole log, so a pause from before the page opened counts too.
 */
export function liveState(loaded: string, view: RunView): string {
  if (view.outcome) return view.outcome.state;
  if (view.pause === "paused") return "paused";
  if (view.pause === "resumed" && loaded === "paused") return "queued";
  return loaded;
}

/**
 * One run, live: its events replayed from the start and then followed over SSE, folded into the
 * curves (loss; train, online and EMA accuracy; images/s) with the stage boundaries marked, the
 * growth timeline, each stage's search, the event log and the spec it trained. A run that does
 * not exist says so, with nothing to press and no stream opened.
 */
export function RunPage({ id }: { id: string }) {
  const { client } = useSession();
  const run = useLoad(async () => {
    const found = unwrap(await client.GET("/v1/runs/{id}", { params: { path: { id } } }));
    const experiment = unwrap(
      await client.GET("/v1/experiments/{id}", { params: { path: { id: found.experimentId } } }),
    );
    return { run: found, experiment };
  }, [id]);
  const [view, setView] = useState<RunView>(EMPTY_RUN_VIEW);
  const [status, setStatus] = useState<{ status: StreamStatus; detail?: string }>({ status: "connecting" });
  const [actionError, setActionError] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  /** A pause or resume asked for and not yet seen in the stream (the buttons wait for it). */
  const [asked, setAsked] = useState<"pause" | "resume" | null>(null);
  const found = run.data !== undefined;

  useEffect(() => {
    if (!found) return;
    setView(EMPTY_RUN_VIEW);
    return followRunStream(client, id, 0, {
      onEvent: (seq, event) => setView((current) => applyEvent(current, seq, event)),
      onStatus: (next, detail) => setStatus(detail ? { status: next, detail } : { status: next }),
    });
  }, [client, id, found]);

  if (run.errorStatus === 404) return <NotFound what="run" id={id} />;

  const ended = status.status === "ended" || view.outcome !== null;
  const state = run.data === undefined ? null : liveState(run.data.run.state, view);
  const active = state !== null && CANCELLABLE.has(state) && !ended;
  const pausable = state !== null && PAUSABLE.has(state) && !ended && asked === null;
  const resumable = state === "paused" && !ended && asked === null;
  const cancel = async () => {
    setActionError(null);
    try {
      unwrap(await client.POST("/v1/runs/{id}/cancel", { params: { path: { id } } }));
    } catch (caught) {
      setActionError(errorText(caught));
    }
  };
  const pauseOrResume = async (what: "pause" | "resume") => {
    setActionError(null);
    setAsked(what);
    try {
      const path = what === "pause" ? "/v1/runs/{id}/pause" : "/v1/runs/{id}/resume";
      unwrap(await client.POST(path, { params: { path: { id } } }));
    } catch (caught) {
      setActionError(errorText(caught));
      setAsked(null);
    }
  };
  // The stream confirms what was asked: the buttons come back then.
  useEffect(() => {
    if ((asked === "pause" && view.pause === "paused") || (asked === "resume" && view.pause === "resumed"))
      setAsked(null);
  }, [asked, view.pause]);
  const exportMetrics = async () => {
    setActionError(null);
    setExporting(true);
    try {
      const table = metricsTable(await loadRunMetrics(client, id));
      downloadCsv(`${id}-metrics.csv`, toCsv(table.header, table.rows));
    } catch (caught) {
      setActionError(errorText(caught));
    } finally {
      setExporting(false);
    }
  };

  const epochs = view.epochs.map((p) => p.epoch);
  const emas = emaNames(view.epochs);
  const markers = epochStageMarkers(view.stages);
  const data = run.data;
  return (
    <main>
      <div class="title-row">
        <h1>Run {data ? `${data.run.label} seed ${data.run.seed}` : ""}</h1>
        <div class="actions">
          <button type="button" onClick={() => void exportMetrics()} disabled={!data || exporting}>
            {exporting ? "Exporting…" : "Export metrics (CSV)"}
          </button>
          <button
            type="button"
            data-testid="pause-run"
            onClick={() => void pauseOrResume("pause")}
            disabled={!pausable}
            title="Stops at the next step boundary with a checkpoint there; Resume goes on exactly"
          >
            {asked === "pause" ? "Pausing…" : "Pause"}
          </button>
          <button
            type="button"
            data-testid="resume-run"
            onClick={() => void pauseOrResume("resume")}
            disabled={!resumable}
          >
            {asked === "resume" ? "Resuming…" : "Resume"}
          </button>
          <button type="button" class="danger" onClick={() => void cancel()} disabled={!active}>
            Cancel run
          </button>
        </div>
      </div>
      <p class="muted mono">
        {id}
        {data && (
          <>
            {" · "}
            <Link to={{ page: "experiment", id: data.run.experimentId }}>
              experiment {data.experiment.name}
            </Link>
          </>
        )}
        {data?.run.forkOf && (
          <>
            {" · fork of "}
            <Link to={{ page: "run", id: data.run.forkOf.runId }}>{data.run.forkOf.runId}</Link>
            {` ${afterEpochs(data.run.forkOf.epoch)}`}
          </>
        )}
      </p>
      {data && (
        <Annotations
          what="run"
          tags={data.run.tags}
          note={data.run.note}
          save={async (body: AnnotationsPatch) =>
            unwrap(await client.PATCH("/v1/runs/{id}", { params: { path: { id } }, body }))
          }
        />
      )}
      <p class="status" role="status" data-testid="stream-status" data-status={status.status}>
        <span class={`chip stream-${status.status}`}>{status.status}</span> {view.lastSeq} events
        {state === "paused" && !view.outcome && (
          <span data-testid="paused" class="chip state-paused">
            paused
          </span>
        )}
        {view.outcome && (
          <span data-testid="outcome" class={`chip state-${view.outcome.state}`}>
            {view.outcome.state}: {view.outcome.text}
          </span>
        )}
        {status.detail && <span class="muted"> ({status.detail})</span>}
      </p>
      {(run.error || actionError) && (
        <p class="error" role="alert">
          {actionError ?? run.error}
        </p>
      )}
      <div class="charts">
        <LineChart
          title="Training loss"
          xLabel="epoch"
          yLabel="loss"
          x={epochs}
          series={[{ label: "train loss", color: colorAt(0), values: view.epochs.map((p) => p.trainLoss) }]}
          markers={markers}
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
          markers={markers}
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
          markers={markers}
          testId="throughput-chart"
        />
      </div>
      <GrowthTimeline stages={view.stages} />
      {data && <RunConfig experiment={data.experiment} run={data.run} />}
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
