import type { AutoprogClient } from "../client/client.ts";
import { type ChartSeries, colorAt } from "./chart-data.ts";
import { loadRunMetrics } from "./metrics.ts";

/** One run's test top-1 at the end of each evaluated epoch, against the seconds trained so far. */
export interface RunCurve {
  readonly label: string;
  readonly points: readonly { readonly seconds: number; readonly top1: number }[];
}

async function series(client: AutoprogClient, runId: string, key: string) {
  const values = new Map<number, number>();
  for (const m of await loadRunMetrics(client, runId, key))
    if (m.epoch !== null) values.set(m.epoch, m.value);
  return values;
}

/** Seconds are the running sum of `epoch_seconds`; top-1 is `test.best` (online or EMA). */
export async function loadRunCurve(client: AutoprogClient, runId: string, label: string): Promise<RunCurve> {
  const [epochSeconds, best] = await Promise.all([
    series(client, runId, "epoch_seconds"),
    series(client, runId, "test.best"),
  ]);
  let total = 0;
  const points: { seconds: number; top1: number }[] = [];
  for (const epoch of [...epochSeconds.keys()].sort((a, b) => a - b)) {
    total += epochSeconds.get(epoch) ?? 0;
    const top1 = best.get(epoch);
    if (top1 !== undefined) points.push({ seconds: total, top1 });
  }
  return { label, points };
}

/** Curves with their own x values on one axis: the union of every x, null where a run has none. */
export function alignCurves(curves: readonly RunCurve[]): { x: number[]; series: ChartSeries[] } {
  const x = [...new Set(curves.flatMap((c) => c.points.map((p) => p.seconds)))].sort((a, b) => a - b);
  return {
    x,
    series: curves.map((curve, i) => {
      const at = new Map(curve.points.map((p) => [p.seconds, p.top1 * 100]));
      return { label: curve.label, color: colorAt(i), values: x.map((s) => at.get(s) ?? null) };
    }),
  };
}
