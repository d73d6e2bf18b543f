/**
 * The paper's Table 3 for our runs (not a test): reads result JSONs written by
 * `autoprog train --out` and prints, per arm and seed, top-1, best top-1, wall, CPU and training
 * seconds, speedups, search and supernet seconds, and the schedule. Time speedups are against
 * the fastest `original` run given (the conservative choice when runs shared the machine with
 * other work); FLOPs speedups need no baseline.
 *
 *   npx tsx bench/compare.ts data/experiments/results/*.json
 */
import { readFile } from "node:fs/promises";
import type { RunResult } from "../src/core/events.ts";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: tsx bench/compare.ts result.json...");
  process.exit(2);
}
const results = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as RunResult));
const originals = results.filter((r) => r.arm === "original");
const fastestOriginal = [...originals].sort((a, b) => a.wallSeconds - b.wallSeconds)[0];
const baselineFor = (_: RunResult) => fastestOriginal;
const pct = (x: number) => `${(100 * x).toFixed(2)}`;
const plus = (x: number | null) => (x === null ? "—" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`);

const rows = results
  .sort((a, b) => a.arm.localeCompare(b.arm) || a.seed - b.seed)
  .map((r) => {
    const base = baselineFor(r);
    return {
      arm: r.arm,
      seed: r.seed,
      top1: pct(r.top1),
      best: pct(r.bestTop1),
      wallS: r.wallSeconds.toFixed(0),
      trainS: r.trainSeconds.toFixed(0),
      wallSpeedup: plus(base ? base.wallSeconds / r.wallSeconds - 1 : null),
      cpuS: r.cpuSeconds.toFixed(0),
      cpuSpeedup: plus(base ? base.cpuSeconds / r.cpuSeconds - 1 : null),
      trainSpeedup: plus(base ? base.trainSeconds / (r.trainSeconds + (r.searchSeconds ?? 0)) - 1 : null),
      flopsSpeedup: plus(r.flopsFull / r.flopsPerStepMean - 1),
      searchS: (r.searchSeconds ?? 0).toFixed(0),
      supernetS: (r.supernetSeconds ?? 0).toFixed(0),
      schedule: r.schedule.map((s) => `${s.depth}@${s.side}`).join(" "),
    };
  });
console.table(rows);
const columns = [
  ["arm", "arm"],
  ["seed", "seed"],
  ["top-1", "top1"],
  ["best", "best"],
  ["wall s", "wallS"],
  ["CPU s", "cpuS"],
  ["train s", "trainS"],
  ["wall speedup", "wallSpeedup"],
  ["CPU speedup", "cpuSpeedup"],
  ["train+search speedup", "trainSpeedup"],
  ["FLOPs speedup", "flopsSpeedup"],
  ["search s", "searchS"],
  ["supernet s", "supernetS"],
  ["schedule", "schedule"],
] as const;
console.log(`| ${columns.map(([title]) => title).join(" | ")} |`);
console.log(`|${columns.map(() => " --- |").join("")}`);
for (const r of rows) console.log(`| ${columns.map(([, key]) => r[key]).join(" | ")} |`);
