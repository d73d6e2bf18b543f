import { type AutoprogClient, unwrap } from "../client/client.ts";
import type { components } from "../client/index.ts";
import type { CsvCell } from "./csv.ts";

export type Metric = components["schemas"]["Metric"];

/** Every stored value of a run (one key, or all), following the API's cursor to the end. */
export async function loadRunMetrics(client: AutoprogClient, runId: string, key?: string): Promise<Metric[]> {
  const items: Metric[] = [];
  let cursor: string | undefined;
  do {
    const page = unwrap(
      await client.GET("/v1/runs/{id}/metrics", {
        params: {
          path: { id: runId },
          query: { limit: 5000, ...(key ? { key } : {}), ...(cursor ? { cursor } : {}) },
        },
      }),
    );
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

/** A run's metrics as one row per step (its epoch, then one column per key, keys sorted). */
export function metricsTable(metrics: readonly Metric[]): { header: string[]; rows: CsvCell[][] } {
  const keys = [...new Set(metrics.map((m) => m.key))].sort();
  const bySteps = new Map<number, { epoch: number | null; values: Map<string, number> }>();
  for (const m of metrics) {
    const row = bySteps.get(m.step) ?? { epoch: m.epoch, values: new Map<string, number>() };
    row.values.set(m.key, m.value);
    bySteps.set(m.step, row);
  }
  const rows = [...bySteps.entries()]
    .sort(([a], [b]) => a - b)
    .map(([step, row]) => [step, row.epoch, ...keys.map((k) => row.values.get(k) ?? null)]);
  return { header: ["step", "epoch", ...keys], rows };
}
