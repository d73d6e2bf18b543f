/**
 * The paper's Table 3 for our runs, one row per run (not a test): reads result JSONs written by
 * `autoprog train --out` and prints, per arm and seed, top-1, best top-1, wall, CPU and training
 * seconds, speedups, search and supernet seconds, and the schedule. Each run's speedups are
 * against the mean of the `original` runs given (bench/table.ts); per-arm means with seed spread:
 * bench/paper-table.ts.
 *
 *   npx tsx bench/compare.ts data/experiments/results/*.json
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  baselines,
  type Column,
  groupSpeedups,
  markdownTable,
  pct,
  plus,
  scheduleText,
  seconds,
  type TableRun,
} from "./table.ts";

export interface RunRow {
  readonly run: TableRun;
  readonly speedups: ReturnType<typeof groupSpeedups>;
}

/** One row per run, by arm then seed, each with its speedups over the mean of the `original` runs. */
export function runRows(results: readonly TableRun[]): RunRow[] {
  const base = baselines(results);
  return [...results]
    .sort((a, b) => a.arm.localeCompare(b.arm) || a.seed - b.seed)
    .map((run) => ({ run, speedups: groupSpeedups(base, [run]) }));
}

export const RUN_COLUMNS: readonly Column<RunRow>[] = [
  ["arm", (r) => r.run.arm],
  ["seed", (r) => String(r.run.seed)],
  ["top-1", (r) => pct(r.run.top1)],
  ["best", (r) => pct(r.run.bestTop1)],
  ["wall s", (r) => seconds(r.run.wallSeconds)],
  ["CPU s", (r) => seconds(r.run.cpuSeconds)],
  ["train s", (r) => seconds(r.run.trainSeconds)],
  ["wall speedup", (r) => plus(r.speedups.wall)],
  ["CPU speedup", (r) => plus(r.speedups.cpu)],
  ["train+search speedup", (r) => plus(r.speedups.trainSearch)],
  ["FLOPs speedup", (r) => plus(r.speedups.flops)],
  ["search s", (r) => seconds(r.run.searchSeconds ?? 0)],
  ["supernet s", (r) => seconds(r.run.supernetSeconds ?? 0)],
  ["schedule", (r) => scheduleText(r.run)],
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: tsx bench/compare.ts result.json...");
    process.exit(2);
  }
  const results = await Promise.all(
    files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as TableRun),
  );
  console.log(markdownTable(RUN_COLUMNS, runRows(results)));
}
