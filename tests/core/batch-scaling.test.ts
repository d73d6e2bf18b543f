import { describe, expect, it } from "vitest";
import { lrPosition, lrScale, stageBatchSize, stageStepsAtBatch } from "../../src/core/batch-scaling.ts";
import { lrAt } from "../../src/core/lr.ts";
import { parseSpec } from "../../src/core/spec.ts";

const options = { maxBatch: 256, multiple: 8, lrScaling: "sqrt" as const };
const base = { baseBatch: 64, flopsFull: 6e6, trainImages: 6000 };

describe("stageBatchSize", () => {
  it("keeps a step's FLOPs near the full model's: batch × FLOPs/image ≈ base batch × full FLOPs/image", () => {
    expect(stageBatchSize({ ...base, flopsPerImage: 3e6 }, options)).toBe(128);
    // 64 × 6 / 2.5 = 153.6 → rounded down to a multiple of 8
    expect(stageBatchSize({ ...base, flopsPerImage: 2.5e6 }, options)).toBe(152);
  });

  it("caps at maxBatch and at the training set, and never goes below the base batch", () => {
    expect(stageBatchSize({ ...base, flopsPerImage: 1e6 }, options)).toBe(256);
    expect(stageBatchSize({ ...base, flopsPerImage: 1e6, trainImages: 100 }, options)).toBe(96);
    expect(stageBatchSize({ ...base, flopsPerImage: 5.9e6 }, options)).toBe(64);
    expect(stageBatchSize({ ...base, flopsPerImage: 6e6 }, options)).toBe(64);
  });

  it("is the base batch without batch scaling", () => {
    expect(stageBatchSize({ ...base, flopsPerImage: 1e6 }, null)).toBe(64);
  });
});

describe("LR under batch scaling", () => {
  it("scales by the documented rule and not at all at the base batch", () => {
    expect(lrScale("linear", 256, 64)).toBe(4);
    expect(lrScale("sqrt", 256, 64)).toBe(2);
    expect(lrScale("none", 256, 64)).toBe(1);
    expect(lrScale("linear", 64, 64)).toBe(1);
  });

  it("reads the curve by images seen: at the base batch the position is the plain step counter", () => {
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let b = 0; b < 93; b++) expect(lrPosition(epoch, b, 93, 93)).toBe(epoch * 93 + b);
    }
    // Step b at batch 4× base has seen as many images as step 4b at the base batch.
    expect(lrPosition(2, 5, 25, 100)).toBe(220);
  });

  it("keeps the curve continuous across a stage boundary where the batch changes", () => {
    const schedule = { peak: 1e-3, floor: 1e-5, warmupSteps: 50, totalSteps: 1000 };
    const stepsPerEpoch = 100;
    // Epoch 4 at a 4× batch (25 steps), epoch 5 back at the base batch (100 steps).
    const lastLarge = lrAt(schedule, lrPosition(4, 24, 25, stepsPerEpoch));
    const firstBase = lrAt(schedule, lrPosition(5, 0, 100, stepsPerEpoch));
    const largeStride = lrAt(schedule, lrPosition(4, 23, 25, stepsPerEpoch)) - lastLarge;
    expect(lastLarge).toBeGreaterThan(firstBase);
    // The jump at the boundary is one large step's stride along the curve, no restart.
    expect(lastLarge - firstBase).toBeCloseTo(largeStride, 7);
  });

  it("keeps EMA horizons fixed in images: 4× the batch, ¼ the steps", () => {
    expect(stageStepsAtBatch(500, 256, 64)).toBe(125);
    expect(stageStepsAtBatch(500, 64, 64)).toBe(500);
  });
});

describe("training.batchScaling in the spec", () => {
  it("is off unless given, and fills its defaults when given", () => {
    const minimal = { name: "x", dataset: { name: "mnist" } } as const;
    expect(parseSpec(minimal).training.batchScaling).toBeUndefined();
    const on = parseSpec({ ...minimal, training: { batchScaling: {} } }).training.batchScaling;
    expect(on).toEqual({ multiple: 8, lrScaling: "sqrt" });
  });
});
