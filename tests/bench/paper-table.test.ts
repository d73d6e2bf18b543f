import { describe, expect, it } from "vitest";
import { armRows, pairedRows, paperTable, targetRows } from "../../bench/paper-table.ts";
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

  it("checks issue 10's target: speedup, original's seed range, and prog's speedup or top-1", () => {
    const withTarget = [
      ...runs,
      // +100% CPU (50 s against 100), 80% top-1: inside original's 80–82% range; below prog's
      // +150% CPU speedup but above prog's 79% top-1.
      run("autoprog-in-range", 0, { cpuSeconds: 50 }),
      // Inside the range but only +66.7% CPU.
      run("autoprog-slow", 0, { cpuSeconds: 60, top1: 0.81 }),
      // Fast but below original's lowest seed.
      run("autoprog-lossy", 0, { cpuSeconds: 30, top1: 0.795 }),
    ];
    const targets = targetRows(armRows(withTarget));
    expect(targets.map((t) => t.arm)).toEqual([
      "autoprog-paired",
      "autoprog-in-range",
      "autoprog-slow",
      "autoprog-lossy",
    ]);
    const [, inRange, slow, lossy] = targets;
    expect(inRange).toMatchObject({ fastEnough: true, withinOriginalRange: true, met: true });
    expect(inRange?.matchesProg).toEqual({ speedup: false, top1: true });
    expect(inRange?.top1Gap).toBeCloseTo(-0.01);
    expect(slow).toMatchObject({ fastEnough: false, withinOriginalRange: true, met: false });
    expect(lossy).toMatchObject({ fastEnough: true, withinOriginalRange: false, met: false });
    expect(lossy?.matchesProg).toEqual({ speedup: true, top1: true });
    expect(paperTable(withTarget)).toContain(
      "| autoprog-lossy | +233.3% | yes | -1.50 | no | yes | yes | no |",
    );
  });

  it("pairs each arm with original seed by seed, leaving out seeds original did not run", () => {
    const paired = pairedRows(
      armRows([
        ...runs,
        run("prog", 1, { top1: 0.83 }),
        run("prog", 2, { top1: 0.9 }), // original has no seed 2
        run("other-seeds", 7, {}),
      ]),
    );
    expect(paired.map((p) => p.arm)).toEqual(["prog", "autoprog-paired"]);
    const [prog, autoprog] = paired;
    expect(prog?.seeds).toEqual([0, 1]);
    expect(prog?.differences[0]).toBeCloseTo(-0.01);
    expect(prog?.differences[1]).toBeCloseTo(0.01);
    expect(prog?.mean).toBeCloseTo(0);
    // sd of (−0.01, +0.01) is 0.01·√2; over √2 seeds: 0.01.
    expect(prog?.standardError).toBeCloseTo(0.01);
    expect(autoprog).toMatchObject({ seeds: [0], standardError: null });
    expect(autoprog?.mean).toBeCloseTo(0);
    expect(paperTable(runs)).toContain("| prog | 0 | -1.00 | -1.00 | — |");
  });

  it("prints no target check without both references", () => {
    expect(targetRows(armRows(runs.filter((r) => r.arm !== "prog")))).toEqual([]);
    expect(paperTable(runs.filter((r) => r.arm !== "prog"))).not.toContain("Target");
  });

  it("leaves untimed runs out of every time figure but keeps their accuracy and FLOPs", () => {
    const slowOriginal = runs.find((r) => r.arm === "original" && r.seed === 1);
    const prog = runs.find((r) => r.arm === "prog");
    if (!slowOriginal || !prog) throw new Error("fixture changed");
    const rows = armRows(runs, new Set([slowOriginal, prog]));
    const [original, progRow, autoprog] = rows;
    // Original's baseline is seed 0 alone (80 s wall, 90 s CPU); its top-1 still has both seeds.
    expect(original?.timedSeeds).toEqual([0]);
    expect(original?.wallSeconds).toBe(80);
    expect(original?.top1).toEqual([0.8, 0.82]);
    expect(autoprog?.speedups).toMatchObject({ wall: 1, cpu: 0.8, flops: 2 });
    // An arm with no timed run shows no times, but its FLOPs speedup stays.
    expect(progRow?.timedSeeds).toEqual([]);
    expect(progRow?.speedups).toMatchObject({ wall: null, cpu: null, flops: 1 });
    const lines = paperTable(runs, new Set([slowOriginal, prog])).split("\n");
    expect(lines[2]).toContain("| original | 0, 1 (times: 0) | 81.00 (80.00 / 82.00) | 82.00 | 90 | 80 |");
    expect(lines[3]).toContain("| prog | 0 (times: none) | 79.00 | 80.00 | — | — | — | — | +100.0% |");
  });
});
