import { beforeAll, describe, expect, it } from "vitest";
import { linearSchedule } from "../../src/core/growth-space.ts";
import type { ExperimentSpecInput } from "../../src/core/spec.ts";
import { useTestBackend } from "../helpers.ts";
import { runRecording, tinyGrowthSpec } from "./helpers.ts";

beforeAll(useTestBackend);

function spec(arms: ExperimentSpecInput["arms"], epochs = 4) {
  return tinyGrowthSpec(arms, epochs, { evalSides: [42] });
}

const run = runRecording;

describe("progressive schedules as arms", () => {
  it("prog runs K stages whose (depth, side) are the growth-space lists, growing with MoGrow", async () => {
    const { result, events } = await run(spec([{ arm: "prog" }]), "prog");
    const expected = linearSchedule({ depth: 4, side: 28, patchSize: 7, stages: 4, initialRatio: 0.5 });
    expect(expected).toEqual([
      { depth: 2, side: 14 },
      { depth: 3, side: 14 },
      { depth: 3, side: 28 },
      { depth: 4, side: 28 },
    ]);
    expect(result.schedule).toEqual(expected);
    const started = events.filter((e) => e.type === "stage.started");
    expect(started.map((e) => ({ depth: e.depth, side: e.side }))).toEqual(expected);
    const grown = events.filter((e) => e.type === "stage.grown");
    expect(grown.map((e) => [e.stage, e.operator])).toEqual([
      [1, "mogrow"],
      [2, "mogrow"],
      [3, "mogrow"],
    ]);
    expect(result.stages.map((s) => s.flopsPerImage)).toEqual(result.history.map((h) => h.flopsPerImage));
    expect(result.flopsPerStepMean).toBeLessThan(result.flopsFull);
    expect(result.history.map((h) => h.architecture.side)).toEqual([14, 14, 28, 28]);
    expect(result.sideEvaluations.map((e) => e.side)).toEqual([28, 42]);
  });

  it("progstack grows depth only, ¼ → ½ → all, over 1:2:5 of the epochs, by stacking", async () => {
    const { result, events } = await run(spec([{ arm: "progstack" }], 8), "progstack");
    expect(result.stages.map((s) => [s.startEpoch, s.epochs, s.depth, s.side])).toEqual([
      [0, 1, 1, 28],
      [1, 2, 2, 28],
      [3, 5, 4, 28],
    ]);
    expect(events.filter((e) => e.type === "stage.grown").map((e) => e.operator)).toEqual([
      "stacking",
      "stacking",
    ]);
  });

  it("fixed replays an explicit schedule and skips growth where nothing changes", async () => {
    const schedule = [
      { depth: 2, side: 14 },
      { depth: 2, side: 14 },
      { depth: 4, side: 28 },
      { depth: 4, side: 28 },
    ];
    const { result, events } = await run(spec([{ arm: "fixed", schedule, operator: "identity" }]), "fixed");
    expect(result.schedule).toEqual(schedule);
    expect(events.filter((e) => e.type === "stage.grown").map((e) => e.stage)).toEqual([2]);
  });

  it("lets one experiment compare operators through labels", () => {
    const s = spec([
      { arm: "prog", label: "prog-randinit", operator: "randinit" },
      { arm: "prog", label: "prog-mogrow" },
    ]);
    expect(s.arms).toHaveLength(2);
    expect(() => spec([{ arm: "prog" }, { arm: "prog" }])).toThrow(/arms.1.label/);
  });
});
