/**
 * The paper's Table 3 from result JSONs (not a test): one row per arm, its seeds averaged, with
 * top-1, best top-1, CPU and wall seconds, CPU / wall / FLOPs speedup over the mean of the
 * `original` runs, the share of wall time spent in search passes and in supernet epochs, and the
 * schedule of each seed. Below it, issue 10's target checked arm by arm (`targetRows`), and each
 * arm's top-1 against `original`'s at the same seed (`pairedRows`). Per-run rows: bench/compare.ts.
 *
 * Accuracy and FLOPs do not depend on the machine's load, times do: `--untimed FILE` (repeatable)
 * keeps a run's accuracy and FLOPs but leaves its seconds out, e.g. a run measured beside a build.
 * An arm whose every run is untimed shows no times.
 *
 *   npm run bench:paper-table -- data/paper/*.json [--untimed data/paper/original-0.json ...]
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { pairedDifference } from "../src/core/paired-selection.ts";
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
  /** The seeds whose times the row's seconds, speedups and shares are means of. */
  readonly timedSeeds: readonly number[];
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

/**
 * One row per arm, in the order the arms first appear, `original` first. Runs in `untimed` count
 * for accuracy and FLOPs, not for seconds (theirs or original's baseline).
 */
export function armRows(runs: readonly TableRun[], untimed: ReadonlySet<TableRun> = new Set()): ArmRow[] {
  const isTimed = (r: TableRun) => !untimed.has(r);
  const base = baselines(runs.filter(isTimed));
  const arms = [...new Set(runs.map((r) => r.arm))].sort((a, b) => +(b === "original") - +(a === "original"));
  return arms.map((arm) => {
    const group = runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
    const timed = group.filter(isTimed);
    const wallSeconds = mean(timed.map((r) => r.wallSeconds));
    const share = (part: (r: TableRun) => number) => {
      const total = mean(timed.map(part));
      return total !== null && wallSeconds ? total / wallSeconds : null;
    };
    return {
      arm,
      seeds: group.map((r) => r.seed),
      timedSeeds: timed.map((r) => r.seed),
      top1: group.map((r) => r.top1),
      best: mean(group.map((r) => r.bestTop1)),
      cpuSeconds: mean(timed.map((r) => r.cpuSeconds)),
      wallSeconds,
      speedups: groupSpeedups(base, group, timed),
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

/** The seeds, and which of them the times are from when not all. */
function seedsText(row: ArmRow): string {
  const seeds = row.seeds.join(", ");
  if (row.timedSeeds.length === row.seeds.length) return seeds;
  return `${seeds} (times: ${row.timedSeeds.length === 0 ? "none" : row.timedSeeds.join(", ")})`;
}

const COLUMNS: readonly Column<ArmRow>[] = [
  ["arm", (r) => r.arm],
  ["seeds", seedsText],
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

/** Issue 10's target: at least this CPU-time speedup over `original`. */
export const TARGET_CPU_SPEEDUP = 0.85;

export interface TargetRow {
  readonly arm: string;
  readonly cpuSpeedup: number | null;
  /** Mean top-1 minus original's mean top-1. */
  readonly top1Gap: number | null;
  readonly fastEnough: boolean;
  /** Mean top-1 inside original's seed range (lowest to highest seed). */
  readonly withinOriginalRange: boolean;
  readonly matchesProg: { readonly speedup: boolean; readonly top1: boolean };
  readonly met: boolean;
}

/**
 * Issue 10's target for each arm other than the two references: at least +85% CPU-time speedup
 * over `original`, mean top-1 inside original's seed range, and at least prog's CPU speedup or
 * prog's mean top-1. Empty unless both `original` and `prog` ran.
 */
export function targetRows(rows: readonly ArmRow[]): TargetRow[] {
  const original = rows.find((r) => r.arm === "original");
  const prog = rows.find((r) => r.arm === "prog");
  if (!original || !prog) return [];
  const originalMean = mean(original.top1);
  const low = Math.min(...original.top1);
  const high = Math.max(...original.top1);
  const progMean = mean(prog.top1);
  return rows
    .filter((r) => r !== original && r !== prog)
    .map((r) => {
      const top1 = mean(r.top1);
      const cpu = r.speedups.cpu;
      const fastEnough = cpu !== null && cpu >= TARGET_CPU_SPEEDUP;
      const withinOriginalRange = top1 !== null && top1 >= low && top1 <= high;
      const matchesProg = {
        speedup: cpu !== null && prog.speedups.cpu !== null && cpu >= prog.speedups.cpu,
        top1: top1 !== null && progMean !== null && top1 >= progMean,
      };
      return {
        arm: r.arm,
        cpuSpeedup: cpu,
        top1Gap: top1 !== null && originalMean !== null ? top1 - originalMean : null,
        fastEnough,
        withinOriginalRange,
        matchesProg,
        met: fastEnough && withinOriginalRange && (matchesProg.speedup || matchesProg.top1),
      };
    });
}

const mark = (ok: boolean) => (ok ? "yes" : "no");
const points = (x: number | null) => (x === null ? "—" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}`);

const TARGET_COLUMNS: readonly Column<TargetRow>[] = [
  ["arm", (r) => r.arm],
  ["CPU speedup", (r) => plus(r.cpuSpeedup)],
  [`≥ ${plus(TARGET_CPU_SPEEDUP)}`, (r) => mark(r.fastEnough)],
  ["top-1 − original (points)", (r) => points(r.top1Gap)],
  ["top-1 in original's seed range", (r) => mark(r.withinOriginalRange)],
  ["≥ prog's CPU speedup", (r) => mark(r.matchesProg.speedup)],
  ["≥ prog's top-1", (r) => mark(r.matchesProg.top1)],
  ["target met", (r) => mark(r.met)],
];

export interface PairedRow {
  readonly arm: string;
  /** Seeds both this arm and `original` ran. */
  readonly seeds: readonly number[];
  /** Per shared seed: this arm's top-1 minus original's at the same seed. */
  readonly differences: readonly number[];
  readonly mean: number;
  /** Standard error of the mean difference (sample sd / √n); null with one seed. */
  readonly standardError: number | null;
}

/**
 * Each arm against `original` seed by seed. A seed fixes the data order, the augmentations and
 * every parameter's initial values (a smaller model's are the first blocks of the full one's),
 * so the difference at one seed is paired and its spread is narrower than the two arms' spreads.
 * Arms that share no seed with `original` are left out.
 */
export function pairedRows(rows: readonly ArmRow[]): PairedRow[] {
  const original = rows.find((r) => r.arm === "original");
  if (!original) return [];
  const originalTop1 = new Map(original.seeds.map((seed, i) => [seed, original.top1[i] as number]));
  return rows.flatMap((row) => {
    if (row === original) return [];
    const pairs = row.seeds.flatMap((seed, i) => {
      const base = originalTop1.get(seed);
      return base === undefined ? [] : [{ seed, top1: row.top1[i] as number, base }];
    });
    if (pairs.length === 0) return [];
    const { meanDifference, standardError } = pairedDifference(
      pairs.map((p) => p.top1),
      pairs.map((p) => p.base),
    );
    return [
      {
        arm: row.arm,
        seeds: pairs.map((p) => p.seed),
        differences: pairs.map((p) => p.top1 - p.base),
        mean: meanDifference,
        standardError: pairs.length > 1 ? standardError : null,
      },
    ];
  });
}

const PAIRED_COLUMNS: readonly Column<PairedRow>[] = [
  ["arm", (r) => r.arm],
  ["seeds", (r) => r.seeds.join(", ")],
  ["top-1 − original, same seed (points)", (r) => r.differences.map(points).join(" / ")],
  ["mean", (r) => points(r.mean)],
  ["standard error", (r) => (r.standardError === null ? "—" : (100 * r.standardError).toFixed(2))],
];

export function paperTable(runs: readonly TableRun[], untimed: ReadonlySet<TableRun> = new Set()): string {
  const rows = armRows(runs, untimed);
  const sections = [markdownTable(COLUMNS, rows)];
  const targets = targetRows(rows);
  if (targets.length > 0) sections.push(`Target (issue 10):\n\n${markdownTable(TARGET_COLUMNS, targets)}`);
  const paired = pairedRows(rows);
  if (paired.length > 0)
    sections.push(`Paired by seed against original:\n\n${markdownTable(PAIRED_COLUMNS, paired)}`);
  return sections.join("\n\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { untimed: { type: "string", multiple: true, default: [] } },
  });
  // Resolved, so `--untimed ./a.json` names the same file as a shell glob's `a.json`.
  const untimedFiles = new Set(values.untimed.map((f) => resolve(f)));
  const files = [...new Set([...positionals.map((f) => resolve(f)), ...untimedFiles])];
  if (files.length === 0) {
    console.error("usage: npm run bench:paper-table -- result.json... [--untimed result.json]...");
    process.exit(2);
  }
  const runs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as TableRun));
  const untimed = new Set(runs.filter((_, i) => untimedFiles.has(files[i] ?? "")));
  const keys = runs.map((r) => `${r.arm} seed ${r.seed}`);
  const repeated = keys.filter((k, i) => keys.indexOf(k) !== i);
  // Result files do not name their spec: two files of one arm and seed are probably two specs.
  if (repeated.length > 0)
    console.error(`warning: more than one result for ${[...new Set(repeated)].join(", ")}`);
  console.log(paperTable(runs, untimed));
}
