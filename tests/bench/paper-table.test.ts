import { describe, expect, it } from "vitest";
import { armRows, paperTable } from "../../bench/paper-table.ts";
import type { TableRun } from "../../bench/table.ts";

const full = { depth: 6, side: 28 };
function run(arm: string, seed: number, figures: Partial<TableRun>): TableRun {
  return {
    arm,
    seed,
    top1: 0.8,
    bestTop1: 0.8,
    wallSeconds: 100,
    cpuSeconds: 100,
    trainSeconds: 90,
    searchSeconds: 0,
    supernetSeconds: 0,
    flopsPerStepMean: 6e6,
    flopsFull: 6e6,
    schedule: [full, full, full, full],
    ...figures,
  };
}

const runs = [
  run("prog", 0, { top1: 0.79, wallSeconds: 50, cpuSeconds: 40, flopsPerStepMean: 3e6 }),
  run("original", 1, { top1: 0.82, bestTop1: 0.83, wallSeconds: 120, cpuSeconds: 110 }),
  run("original", 0, { top1: 0.8, bestTop1: 0.81, wallSeconds: 80, cpuSeconds: 90 }),
  run("autoprog-paired", 0, {
    wallSeconds: 40,
    cpuSeconds: 50,
    searchSeconds: 2,
    supernetSeconds: 8,
    flopsPerStepMean: 2e6,
    schedule: [{ depth: 3, side: 16 }, { depth: 4, side: 16 }, { depth: 5, side: 24 }, full],
  }),
];

describe("bench/paper-table", () => {
  it("averages seeds per arm, original first, with speedups against the original mean", () => {
    const rows = armRows(runs);
    expect(rows.map((r) => r.arm)).toEqual(["original", "prog", "autoprog-paired"]);
    const [original, prog, autoprog] = rows;
    expect(original?.seeds).toEqual([0, 1]);
    expect(original?.top1).toEqual([0.8, 0.82]);
    expect(original?.wallSeconds).toBe(100);
    expect(original?.speedups).toMatchObject({ wall: 0, cpu: 0, flops: 0 });
    expect(prog?.speedups).toMatchObject({ wall: 1, cpu: 1.5, flops: 1 });
    expect(autoprog?.speedups).toMatchObject({ wall: 1.5, cpu: 1, flops: 2 });
    expect(autoprog?.searchShare).toBeCloseTo(0.05);
    expect(autoprog?.supernetShare).toBeCloseTo(0.2);
  });

  it("prints a markdown table with the seed spread beside the mean", () => {
    const lines = paperTable(runs).split("\n");
    expect(lines[0]).toBe(
      "| arm | seeds | top-1 % | best % | CPU s | wall s | CPU speedup | wall speedup | FLOPs speedup | search share | supernet share | schedule (depth@side) |",
    );
    expect(lines[2]).toBe(
      "| original | 0, 1 | 81.00 (80.00 / 82.00) | 82.00 | 100 | 100 | +0.0% | +0.0% | +0.0% | — | — | 6@28 6@28 6@28 6@28 |",
    );
    expect(lines[4]).toBe(
      "| autoprog-paired | 0 | 80.00 | 80.00 | 50 | 40 | +100.0% | +150.0% | +200.0% | 5.0% | 20.0% | 3@16 4@16 5@24 6@28 |",
    );
  });
});
