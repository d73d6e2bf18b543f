import { describe, expect, it } from "vitest";
import {
  depthList,
  isLargestInSpace,
  linearSchedule,
  scalingRatios,
  sideList,
  stageSpace,
  stageStartEpochs,
} from "../../src/core/growth-space.ts";
import { stageIndexAt } from "../../src/core/schedule.ts";

const deitSmall = { depth: 12, side: 224, patchSize: 16, stages: 4, initialRatio: 0.5 };

describe("growth space lists", () => {
  it("reproduces the reference 128/160/192/224 sides and 6/8/10/12 depths at s0 = 0.5", () => {
    expect(scalingRatios(4, 0.5)).toEqual([0.5, 0.5 + 0.5 / 3, 0.5 + 1 / 3, 1]);
    expect(sideList(deitSmall)).toEqual([128, 160, 192, 224]);
    expect(depthList(deitSmall)).toEqual([6, 8, 10, 12]);
  });

  it("supports s0 = 0.4", () => {
    const options = { ...deitSmall, initialRatio: 0.4 };
    expect(depthList(options)).toEqual([5, 7, 10, 12]);
    expect(sideList(options)).toEqual([96, 128, 192, 224]);
  });

  it("keeps the full side last even when it is not a multiple of 2·patch (28 px, 4-px patches)", () => {
    const micro = { depth: 6, side: 28, patchSize: 4, stages: 4, initialRatio: 0.5 };
    expect(sideList(micro)).toEqual([16, 16, 24, 28]);
    expect(depthList(micro)).toEqual([3, 4, 5, 6]);
    expect(linearSchedule(micro)).toEqual([
      { depth: 3, side: 16 },
      { depth: 4, side: 16 },
      { depth: 5, side: 24 },
      { depth: 6, side: 28 },
    ]);
  });

  it("never goes below one block or 2·patch pixels for tiny models", () => {
    const tiny = { depth: 2, side: 8, patchSize: 2, stages: 4, initialRatio: 0.4 };
    expect(depthList(tiny)).toEqual([1, 1, 2, 2]);
    expect(sideList(tiny)).toEqual([4, 4, 8, 8]);
    expect(depthList({ ...tiny, depth: 1 })).toEqual([1, 1, 1, 1]);
  });

  it("places stage starts at floor(k·T/K) and finds the stage of an epoch", () => {
    expect(stageStartEpochs(10, 4)).toEqual([0, 2, 5, 7]);
    const uniform = stageStartEpochs(10, 4).map((startEpoch) => ({ startEpoch, architecture: null }));
    expect([0, 1, 2, 4, 5, 6, 7, 9].map((e) => stageIndexAt(uniform, e))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(scalingRatios(1, 0.5)).toEqual([1]);
  });
});

describe("stage spaces Ω_k", () => {
  it("stage 0 is the 3×3 grid of {smallest, medium, largest} side × depth and holds the full model", () => {
    const space = stageSpace(deitSmall, 0, { depth: 0, side: 0 });
    expect(space).toHaveLength(9);
    expect(new Set(space.map((a) => a.side))).toEqual(new Set([128, 192, 224]));
    expect(new Set(space.map((a) => a.depth))).toEqual(new Set([6, 10, 12]));
    expect(space).toContainEqual({ depth: 12, side: 224 });
  });

  it("later stages offer {current, next} side × the next up-to-three deeper depths", () => {
    const space = stageSpace(deitSmall, 1, { depth: 6, side: 128 });
    expect(space).toEqual([
      { depth: 8, side: 128 },
      { depth: 10, side: 128 },
      { depth: 12, side: 128 },
      { depth: 8, side: 160 },
      { depth: 10, side: 160 },
      { depth: 12, side: 160 },
    ]);
    expect(stageSpace(deitSmall, 2, { depth: 10, side: 192 })).toEqual([
      { depth: 12, side: 192 },
      { depth: 12, side: 224 },
    ]);
  });

  it("with the schedule's side as floor, a network behind it is offered {r_k, next}; one ahead keeps {current, next}", () => {
    const micro = { depth: 6, side: 28, patchSize: 4, stages: 4, initialRatio: 0.5 };
    const floor = sideList(micro)[2] as number; // 24
    // Behind the schedule (still 16 px at stage 2): 16 is no longer offered.
    expect(stageSpace(micro, 2, { depth: 4, side: 16 }, floor)).toEqual([
      { depth: 5, side: 24 },
      { depth: 6, side: 24 },
      { depth: 5, side: 28 },
      { depth: 6, side: 28 },
    ]);
    // Without the floor the same network may stay at 16 px.
    expect(stageSpace(micro, 2, { depth: 4, side: 16 }).map((a) => a.side)).toEqual([16, 16, 24, 24]);
    // Ahead of (or on) the schedule the floor changes nothing: growth may run ahead.
    expect(stageSpace(micro, 1, { depth: 5, side: 24 }, sideList(micro)[1])).toEqual(
      stageSpace(micro, 1, { depth: 5, side: 24 }),
    );
    // A full-depth network behind the schedule must still grow its side.
    const full = { depth: 6, side: 16 };
    const space = stageSpace(micro, 2, full, floor);
    expect(space).toEqual([
      { depth: 6, side: 24 },
      { depth: 6, side: 28 },
    ]);
    expect(isLargestInSpace(space, full)).toBe(false);
  });

  it("collapses to the current architecture when it is already full, and says so", () => {
    const current = { depth: 12, side: 224 };
    const space = stageSpace(deitSmall, 2, current);
    expect(space).toEqual([current]);
    expect(isLargestInSpace(space, current)).toBe(true);
    expect(isLargestInSpace(stageSpace(deitSmall, 1, { depth: 6, side: 128 }), { depth: 6, side: 128 })).toBe(
      false,
    );
  });

  it("drops duplicates produced by rounding", () => {
    const micro = { depth: 6, side: 28, patchSize: 4, stages: 4, initialRatio: 0.5 };
    const space = stageSpace(micro, 0, { depth: 0, side: 0 });
    const keys = space.map((a) => `${a.depth}@${a.side}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(space).toHaveLength(9); // sides 16/24/28 × depths 3/5/6
  });
});
