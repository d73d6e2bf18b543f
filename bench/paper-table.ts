/**
 * The paper's Table 3 from result JSONs (not a test): one row per arm, its seeds averaged, with
 * top-1, best top-1, CPU and wall seconds, CPU / wall / FLOPs speedup over the mean of the
 * `original` runs, the share of wall time spent in search passes and in supernet epochs, and the
 * schedule of each seed. Per-run rows: bench/compare.ts.
 *
 *   npm run bench:paper-table -- data/paper/*.json
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { mean } from "../src/core/speedup.ts";
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

export interface ArmRow {
  readonly arm: string;
  readonly seeds: readonly number[];
  readonly top1: readonly number[];
  readonly best: number | null;
  readonly cpuSeconds: number | null;
  readonly wallSeconds: number | null;
  readonly speedups: ReturnType<typeof groupSpeedups>;
  /** Fractions of wall time: candidate measurement passes, supernet epochs. */
  readonly searchShare: number | null;
  readonly supernetShare: number | null;
  readonly schedules: readonly string[];
}

/** One row per arm, in the order the arms first appear, `original` first. */
export function armRows(runs: readonly TableRun[]): ArmRow[] {
  const base = baselines(runs);
  const arms = [...new Set(runs.map((r) => r.arm))].sort((a, b) => +(b === "original") - +(a === "original"));
  return arms.map((arm) => {
    const group = runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
    const wallSeconds = mean(group.map((r) => r.wallSeconds));
    const share = (part: (r: TableRun) => number) => {
      const total = mean(group.map(part));
      return total !== null && wallSeconds ? total / wallSeconds : null;
    };
    return {
      arm,
      seeds: group.map((r) => r.seed),
      top1: group.map((r) => r.top1),
      best: mean(group.map((r) => r.bestTop1)),
      cpuSeconds: mean(group.map((r) => r.cpuSeconds)),
      wallSeconds,
      speedups: groupSpeedups(base, group),
      searchShare: share((r) => r.searchSeconds ?? 0),
      supernetShare: share((r) => r.supernetSeconds ?? 0),
      schedules: group.map(scheduleText),
    };
  });
}

const share = (x: number | null) => (x === null || x === 0 ? "—" : `${(100 * x).toFixed(1)}%`);

/** Top-1 as "mean (seed values)" so the seed spread is visible beside the mean. */
function top1Text(values: readonly number[]): string {
  const average = pct(mean(values));
  return values.length > 1 ? `${average} (${values.map(pct).join(" / ")})` : average;
}

const COLUMNS: readonly Column<ArmRow>[] = [
  ["arm", (r) => r.arm],
  ["seeds", (r) => r.seeds.join(", ")],
  ["top-1 %", (r) => top1Text(r.top1)],
  ["best %", (r) => pct(r.best)],
  ["CPU s", (r) => seconds(r.cpuSeconds)],
  ["wall s", (r) => seconds(r.wallSeconds)],
  ["CPU speedup", (r) => plus(r.speedups.cpu)],
  ["wall speedup", (r) => plus(r.speedups.wall)],
  ["FLOPs speedup", (r) => plus(r.speedups.flops)],
  ["search share", (r) => share(r.searchShare)],
  ["supernet share", (r) => share(r.supernetShare)],
  ["schedule (depth@side)", (r) => [...new Set(r.schedules)].join(" / ")],
];

export function paperTable(runs: readonly TableRun[]): string {
  return markdownTable(COLUMNS, armRows(runs));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: npm run bench:paper-table -- result.json...");
    process.exit(2);
  }
  const runs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as TableRun));
  const keys = runs.map((r) => `${r.arm} seed ${r.seed}`);
  const repeated = keys.filter((k, i) => keys.indexOf(k) !== i);
  // Result files do not name their spec: two files of one arm and seed are probably two specs.
  if (repeated.length > 0)
    console.error(`warning: more than one result for ${[...new Set(repeated)].join(", ")}`);
  console.log(paperTable(runs));
}
