import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { armRows } from "../../bench/paper-table.ts";
import {
  BLOCKS,
  expandSummary,
  generatedFiles,
  type ResultSummary,
  ResultSummarySchema,
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

describe("bench/results-doc", () => {
  it("every generated results table in README.md and docs/ matches its summary in bench/results/", async () => {
    const files = await generatedFiles(process.cwd());
    expect(files.map((f) => f.file).sort()).toEqual([...new Set(BLOCKS.map((b) => b.file))].sort());
    for (const { file, committed, generated } of files) {
      expect(committed, `${file} is stale: run npm run docs:results`).toBe(generated);
    }
  });

  it("a changed figure in a summary changes every table made from it", async () => {
    for (const block of BLOCKS) {
      const committed = ResultSummarySchema.parse(JSON.parse(await readFile(block.summary, "utf8")));
      const [first, ...rest] = committed.arms;
      if (!first) throw new Error(`${block.summary} has no arm`);
      const seeds = first.seeds.map((s, i) => (i === 0 ? { ...s, top1: s.top1 - 1 } : s));
      expect(block.render({ ...committed, arms: [{ ...first, seeds }, ...rest] })).not.toBe(
        block.render(committed),
      );
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

  it("refuses a timed seed of an arm without seconds", () => {
    const arms = summary.arms.map((a) => (a.arm === "prog" ? { ...a, wallSeconds: null } : a));
    expect(() => expandSummary({ ...summary, arms })).toThrow(/prog seed 0 is timed/);
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
