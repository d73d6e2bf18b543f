/**
 * The paper's Table 3 for our runs (not a test): reads result JSONs written by
 * `autoprog train --out` and prints, per arm and seed, top-1, best top-1, wall, CPU and training
 * seconds, speedups, search and supernet seconds, and the schedule. Each run's speedups are
 * against the mean of the `original` runs given, with the same arithmetic as the `/report`
 * route (src/core/speedup.ts); FLOPs speedups are against the full model and need no baseline.
 *
 *   npx tsx bench/compare.ts data/experiments/results/*.json
 */
import { readFile } from "node:fs/promises";
import type { RunResult } from "../src/core/events.ts";
import { armTimes, speedup, speedups } from "../src/core/speedup.ts";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: tsx bench/compare.ts result.json...");
  process.exit(2);
}
const results = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as RunResult));
const originals = results.filter((r) => r.arm === "original");
const baseline = originals.length > 0 ? armTimes(originals) : null;
const cpuBaseline =
  originals.length > 0 ? armTimes(originals.map((r) => ({ ...r, wallSeconds: r.cpuSeconds }))) : null;
const pct = (x: number) => `${(100 * x).toFixed(2)}`;
const plus = (x: number | null) => (x === null ? "—" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`);

const rows = results
  .sort((a, b) => a.arm.localeCompare(b.arm) || a.seed - b.seed)
  .map((r) => {
    const against = baseline ? speedups(baseline, armTimes([r])) : null;
    const cpu = cpuBaseline ? speedups(cpuBaseline, armTimes([{ ...r, wallSeconds: r.cpuSeconds }])) : null;
    return {
      arm: r.arm,
      seed: r.seed,
      top1: pct(r.top1),
      best: pct(r.bestTop1),
      wallS: r.wallSeconds.toFixed(0),
      trainS: r.trainSeconds.toFixed(0),
      wallSpeedup: plus(against?.wallSpeedup ?? null),
      cpuS: r.cpuSeconds.toFixed(0),
      cpuSpeedup: plus(cpu?.wallSpeedup ?? null),
      trainSpeedup: plus(against?.trainSearchSpeedup ?? null),
      flopsSpeedup: plus(speedup(r.flopsFull, r.flopsPerStepMean)),
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
