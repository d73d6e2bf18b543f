/**
 * The paper's Table 3 arithmetic over result JSONs (`autoprog train --out`), shared by
 * bench/compare.ts (one row per run) and bench/paper-table.ts (one row per arm, seeds averaged).
 * Time speedups are against the mean of the `original` runs given, with src/core/speedup.ts (the
 * `/report` route's arithmetic); FLOPs speedups are against the full model and need no baseline.
 */
import type { RunResult } from "../src/core/events.ts";
import { type ArmTimes, armTimes, mean, speedup, speedups } from "../src/core/speedup.ts";

/** The figures a table needs from a RunResult (older result files lack nothing of these). */
export type TableRun = Pick<
  RunResult,
  | "arm"
  | "seed"
  | "top1"
  | "bestTop1"
  | "wallSeconds"
  | "cpuSeconds"
  | "trainSeconds"
  | "searchSeconds"
  | "supernetSeconds"
  | "flopsPerStepMean"
  | "flopsFull"
  | "schedule"
>;

export const pct = (x: number | null) => (x === null ? "—" : (100 * x).toFixed(2));
export const plus = (x: number | null) => (x === null ? "—" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`);
export const seconds = (x: number | null) => (x === null ? "—" : x.toFixed(0));
export const scheduleText = (run: Pick<RunResult, "schedule">) =>
  run.schedule.map((s) => `${s.depth}@${s.side}`).join(" ");

/** CPU seconds in the place of wall seconds, so the same arithmetic gives CPU speedups. */
const asCpu = (run: TableRun) => ({ ...run, wallSeconds: run.cpuSeconds });

/** Mean wall and CPU times of the `original` runs: what every speedup is measured against. */
export interface Baselines {
  readonly wall: ArmTimes | null;
  readonly cpu: ArmTimes | null;
}

export function baselines(runs: readonly TableRun[]): Baselines {
  const originals = runs.filter((r) => r.arm === "original");
  if (originals.length === 0) return { wall: null, cpu: null };
  return { wall: armTimes(originals), cpu: armTimes(originals.map(asCpu)) };
}

/**
 * Wall, CPU, train+search and FLOPs speedups of a group of runs (their means) over the baseline.
 * Times come from `timed` (the runs measured under comparable load; all of them by default), the
 * FLOPs from every run, since FLOPs do not depend on the machine's load.
 */
export function groupSpeedups(base: Baselines, runs: readonly TableRun[], timed: readonly TableRun[] = runs) {
  const wall = base.wall ? speedups(base.wall, armTimes(timed)) : null;
  const cpu = base.cpu ? speedups(base.cpu, armTimes(timed.map(asCpu))) : null;
  return {
    wall: wall?.wallSpeedup ?? null,
    cpu: cpu?.wallSpeedup ?? null,
    trainSearch: wall?.trainSearchSpeedup ?? null,
    flops: speedup(mean(runs.map((r) => r.flopsFull)), mean(runs.map((r) => r.flopsPerStepMean))),
  };
}

/** A column: its title and how a row shows it. */
export type Column<Row> = readonly [title: string, cell: (row: Row) => string];

export function markdownTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const lines = [
    `| ${columns.map(([title]) => title).join(" | ")} |`,
    `|${columns.map(() => " --- |").join("")}`,
    ...rows.map((row) => `| ${columns.map(([, cell]) => cell(row)).join(" | ")} |`),
  ];
  return lines.join("\n");
}
