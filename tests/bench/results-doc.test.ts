import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { runRows } from "../../bench/compare.ts";
import { armRows } from "../../bench/paper-table.ts";
import {
  alignTables,
  BLOCKS,
  expandRunSummary,
  expandSummary,
  generatedFiles,
  type ResultSummary,
  replaceBlock,
} from "../../bench/results-doc.ts";

const summary: ResultSummary = {
  source: "a test",
  spec: "examples/x.json",
  command: "autoprog train",
  arms: [
    {
      arm: "original",
      seeds: [
        { seed: 0, top1: 80, schedule: "6@28" },
        { seed: 1, top1: 82, schedule: "6@28" },
      ],
      timedSeeds: [1],
      bestTop1: 81.5,
      cpuSeconds: 300,
      wallSeconds: 400,
      flopsSpeedup: 0,
      searchShare: 0,
      supernetShare: 0,
    },
    {
      arm: "prog",
      seeds: [{ seed: 0, top1: 79, schedule: "3@16 6@28" }],
      timedSeeds: [0],
      bestTop1: 79,
      cpuSeconds: 150,
      wallSeconds: 200,
      flopsSpeedup: 1,
      searchShare: 0.25,
      supernetShare: null,
    },
  ],
};

/** A copy of `json` with the first `key` found (depth first) one lower. */
function lowerFirst(json: unknown, key: string): unknown {
  let done = false;
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value).map(([name, inner]) => {
        if (name === key && typeof inner === "number" && !done) {
          done = true;
          return [name, inner - 1];
        }
        return [name, walk(inner)];
      }),
    );
  };
  const changed = walk(json);
  if (!done) throw new Error(`the summary has no ${key}`);
  return changed;
}

describe("bench/results-doc", () => {
  it("every generated results table in README.md and docs/ matches its summary in bench/results/", async () => {
    const files = await generatedFiles(process.cwd());
    expect(files.map((f) => f.file).sort()).toEqual([...new Set(BLOCKS.map((b) => b.file))].sort());
    for (const { file, committed, generated } of files) {
      expect(committed, `${file} is stale: run npm run docs:results`).toBe(generated);
    }
  });

  it("a changed number in a summary changes every table made from it", async () => {
    // The accuracy tables' first top-1, the throughput tables' first rate or count.
    const changedKey = (name: string) =>
      name === "service-api" ? "requestsPerSecond" : name === "service-fleet" ? "eventsAccepted" : "top1";
    for (const block of BLOCKS) {
      const json: unknown = JSON.parse(await readFile(block.summary, "utf8"));
      const changed = lowerFirst(json, changedKey(block.name));
      expect(block.render(changed), `${block.file} ${block.name}`).not.toBe(block.render(json));
    }
  });

  it("expands each arm's means to its seeds; untimed seeds keep accuracy and FLOPs but no seconds", () => {
    const { runs, untimed } = expandSummary(summary);
    expect(runs.map((r) => `${r.arm}/${r.seed}`)).toEqual(["original/0", "original/1", "prog/0"]);
    expect([...untimed].map((r) => `${r.arm}/${r.seed}`)).toEqual(["original/0"]);
    const [original, prog] = armRows(runs, untimed);
    expect(original?.top1).toEqual([0.8, 0.82]);
    expect(original?.wallSeconds).toBe(400);
    expect(prog?.speedups.cpu).toBeCloseTo(1); // 300 / 150 − 1
    expect(prog?.speedups.flops).toBeCloseTo(1);
    expect(prog?.searchShare).toBeCloseTo(0.25);
    expect(prog?.schedules).toEqual(["3@16 6@28"]);
  });

  it("turns a per-run summary into runs whose speed-ups are against the mean of original", () => {
    const run = { wallSeconds: 100, cpuSeconds: 100, flopsSpeedup: 0, searchSeconds: 0, supernetSeconds: 0 };
    const runs = expandRunSummary({
      source: "a test",
      spec: "examples/x.json",
      command: "compare",
      runs: [
        { ...run, arm: "original", seed: 0, top1: 70, schedule: "6@28" },
        { ...run, arm: "original", seed: 1, top1: 72, wallSeconds: 300, schedule: "6@28" },
        { ...run, arm: "prog", seed: 0, top1: 71, wallSeconds: 50, flopsSpeedup: 1, schedule: "3@16 6@28" },
      ],
    });
    const prog = runRows(runs).find((r) => r.run.arm === "prog");
    expect(prog?.speedups.wall).toBeCloseTo(3); // mean(100, 300) / 50 − 1
    expect(prog?.speedups.flops).toBeCloseTo(1);
    expect(prog?.run.schedule).toEqual([
      { depth: 3, side: 16 },
      { depth: 6, side: 28 },
    ]);
  });

  it("refuses a timed seed of an arm without seconds", () => {
    const arms = summary.arms.map((a) => (a.arm === "prog" ? { ...a, wallSeconds: null } : a));
    expect(() => expandSummary({ ...summary, arms })).toThrow(/prog seed 0 is timed/);
  });

  it("lays tables out as the formatter does, leaving other lines alone", () => {
    const text = "Target:\n\n| arm | top-1 − x |\n| --- | --- |\n| original | a \\| b |\n\nafter";
    expect(alignTables(text)).toBe(
      "Target:\n\n| arm      | top-1 − x |\n| -------- | --------- |\n| original | a \\| b    |\n\nafter",
    );
  });

  it("replaces only the named block, and fails without its markers", () => {
    const text =
      "a\n<!-- results:x -->\nold\n<!-- /results:x -->\nb\n<!-- results:y -->\nkeep\n<!-- /results:y -->\n";
    expect(replaceBlock(text, "x", "new")).toBe(
      "a\n<!-- results:x -->\nnew\n<!-- /results:x -->\nb\n<!-- results:y -->\nkeep\n<!-- /results:y -->\n",
    );
    expect(() => replaceBlock(text, "z", "new")).toThrow(/results:z/);
  });
});
