import { type AutoprogClient, unwrap } from "../client/client.ts";
import type { components } from "../client/index.ts";
import { type ChartMarker, type ChartSeries, colorAt } from "./chart-data.ts";
import { loadRunMetrics, type Metric } from "./metrics.ts";

type Run = components["schemas"]["Run"];
type Stage = components["schemas"]["Stage"];

/**
 * The compare view's data: any runs of any experiments, one metric against epochs, images seen
 * or seconds trained, with each run's stage boundaries. Pure apart from `loadComparedRun`, so
 * the axis rules are tested in Node.
 */
export type XAxis = "epoch" | "images" | "seconds";

export const X_AXES: readonly { readonly value: XAxis; readonly label: string }[] = [
  { value: "epoch", label: "epoch" },
  { value: "images", label: "images seen" },
  { value: "seconds", label: "seconds trained" },
];

/** The per-epoch series the images and seconds axes are summed from. */
export const EPOCH_SECONDS_KEY = "epoch_seconds";
export const IMAGES_PER_SECOND_KEY = "images_per_second";

export interface ComparedRun {
  readonly run: Run;
  readonly experimentName: string;
  readonly metrics: readonly Metric[];
  readonly stages: readonly Stage[];
  /** What each of its keys measures, as the API describes it. */
  readonly keyDescriptions: ReadonlyMap<string, string>;
}

export async function loadComparedRun(client: AutoprogClient, runId: string): Promise<ComparedRun> {
  const run = unwrap(await client.GET("/v1/runs/{id}", { params: { path: { id: runId } } }));
  const [experiment, metrics, stages, keys] = await Promise.all([
    client.GET("/v1/experiments/{id}", { params: { path: { id: run.experimentId } } }).then(unwrap),
    loadRunMetrics(client, runId),
    client.GET("/v1/runs/{id}/stages", { params: { path: { id: runId } } }).then(unwrap),
    client.GET("/v1/runs/{id}/metrics/keys", { params: { path: { id: runId } } }).then(unwrap),
  ]);
  return {
    run,
    experimentName: experiment.name,
    metrics,
    stages: stages.items,
    keyDescriptions: new Map(keys.items.map((k) => [k.key, k.description])),
  };
}

export const runName = (r: ComparedRun): string => `${r.experimentName} · ${r.run.label} seed ${r.run.seed}`;

/** What a key measures, from the first run that has it. */
export const keyDescription = (runs: readonly ComparedRun[], key: string): string | undefined =>
  runs.map((r) => r.keyDescriptions.get(key)).find((d) => d !== undefined);

/** Every key any of the runs has, sorted. */
export const metricKeys = (runs: readonly ComparedRun[]): string[] =>
  [...new Set(runs.flatMap((r) => r.metrics.map((m) => m.key)))].sort();

/**
 * Where each epoch ends on the chosen axis: the epoch itself, or the running sum of its seconds
 * (`epoch_seconds`) or of the images it trained: `images_per_second` × `epoch_seconds`, exact
 * because the trainer measures both over the same seconds (src/train/report.ts `epochRecord`).
 * An epoch without the series it needs has no position (its point is left out, not misplaced).
 */
export function epochPositions(metrics: readonly Metric[], axis: XAxis): Map<number, number> {
  const byEpoch = (key: string) => {
    const values = new Map<number, number>();
    for (const m of metrics) if (m.key === key && m.epoch !== null) values.set(m.epoch, m.value);
    return values;
  };
  const epochs = [...new Set(metrics.flatMap((m) => (m.epoch === null ? [] : [m.epoch])))].sort(
    (a, b) => a - b,
  );
  if (axis === "epoch") return new Map(epochs.map((e) => [e, e]));
  const seconds = byEpoch(EPOCH_SECONDS_KEY);
  const rate = byEpoch(IMAGES_PER_SECOND_KEY);
  const positions = new Map<number, number>();
  let total = 0;
  for (const epoch of epochs) {
    const s = seconds.get(epoch);
    const perSecond = rate.get(epoch);
    const step =
      axis === "seconds" ? s : s !== undefined && perSecond !== undefined ? s * perSecond : undefined;
    if (step === undefined) continue;
    total += step;
    positions.set(epoch, total);
  }
  return positions;
}

/** Where a stage starting at `startEpoch` begins on an epoch axis: between its first epoch and the one before. */
const epochBoundary = (startEpoch: number) => startEpoch - 0.5;

/** A run's stage boundaries on an epoch axis (the first stage opens no boundary). */
export const epochStageMarkers = (
  stages: readonly { readonly stage: number; readonly startEpoch: number }[],
): ChartMarker[] =>
  stages
    .filter((s) => s.startEpoch > 0)
    .map((s) => ({ x: epochBoundary(s.startEpoch), label: `stage ${s.stage}` }));

/** A stage boundary's place: between epochs on the epoch axis, else where the last epoch before it ended. */
function boundaryAt(positions: Map<number, number>, startEpoch: number, axis: XAxis): number | undefined {
  if (axis === "epoch") return epochBoundary(startEpoch);
  return positions.get(startEpoch - 1);
}

export interface CompareChart {
  readonly x: number[];
  readonly series: ChartSeries[];
  readonly markers: ChartMarker[];
}

/** The runs' values of `key` on one x axis (the union of their x values; null where a run has none). */
export function compareChart(runs: readonly ComparedRun[], key: string, axis: XAxis): CompareChart {
  const perRun = runs.map((r) => {
    const positions = epochPositions(r.metrics, axis);
    const at = new Map<number, number>();
    for (const m of r.metrics) {
      if (m.key !== key || m.epoch === null) continue;
      const x = positions.get(m.epoch);
      if (x !== undefined) at.set(x, m.value);
    }
    return { run: r, positions, at };
  });
  const x = [...new Set(perRun.flatMap((p) => [...p.at.keys()]))].sort((a, b) => a - b);
  const series = perRun.map((p, i) => ({
    label: runName(p.run),
    color: colorAt(i),
    values: x.map((v) => p.at.get(v) ?? null),
  }));
  const markers = perRun.flatMap((p, i) =>
    p.run.stages
      .filter((s) => s.startEpoch > 0)
      .flatMap((s) => {
        const at = boundaryAt(p.positions, s.startEpoch, axis);
        return at === undefined ? [] : [{ x: at, label: `s${s.stage}`, color: colorAt(i) }];
      }),
  );
  return { x, series, markers };
}
