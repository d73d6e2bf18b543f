import { describe, expect, it } from "vitest";
import { createRandom } from "../../src/core/random.ts";
import type { AugmentOptions } from "../../src/data/augment.ts";
import { type MixTarget, mixBatch } from "../../src/data/mix.ts";
import { forbiddenRandom } from "./helpers.ts";

const size = 5;
const side = 8;
const numClasses = 6; // more classes than images, so every label differs
const base: AugmentOptions = {
  cropPadding: 0,
  horizontalFlip: false,
  randAugment: null,
  randAugmentScale: 1,
  randomErasing: 0,
  mixupAlpha: 0,
  cutmixAlpha: 0,
  mixProbability: 1,
};

/** Image i is the constant i; its label is i % numClasses, one-hot. */
function constantBatch(): MixTarget {
  const x = new Float32Array(size * side * side);
  const targets = new Float32Array(size * numClasses);
  for (let i = 0; i < size; i++) {
    x.fill(i, i * side * side, (i + 1) * side * side);
    targets[i * numClasses + (i % numClasses)] = 1;
  }
  return { x, targets, size, side, channels: 1, numClasses };
}

function rowSums(batch: MixTarget): number[] {
  return Array.from({ length: size }, (_, i) =>
    batch.targets.subarray(i * numClasses, (i + 1) * numClasses).reduce((a, b) => a + b, 0),
  );
}

describe("mixBatch", () => {
  it("mixup blends image i with image size-1-i and targets by the same lambda", () => {
    const batch = constantBatch();
    const result = mixBatch(batch, { ...base, mixupAlpha: 0.8 }, createRandom(5));
    expect(result.kind).toBe("mixup");
    const { lambda } = result;
    for (const value of rowSums(batch)) expect(value).toBeCloseTo(1, 6);
    expect(batch.x[0]).toBeCloseTo((1 - lambda) * 4, 5);
    expect(batch.x[2 * side * side]).toBe(2); // the middle image pairs with itself
    expect(batch.targets[0]).toBeCloseTo(lambda, 6); // image 0's own class
    expect(batch.targets[4]).toBeCloseTo(1 - lambda, 6); // image 4's class
  });

  it("cutmix swaps one box and weights targets by the pasted area", () => {
    const batch = constantBatch();
    const result = mixBatch(batch, { ...base, cutmixAlpha: 1 }, createRandom(11));
    expect(result.kind).toBe("cutmix");
    for (const value of rowSums(batch)) expect(value).toBeCloseTo(1, 6);
    const first = batch.x.subarray(0, side * side);
    const pasted = first.filter((v) => v === 4).length / (side * side);
    expect(pasted).toBeCloseTo(1 - result.lambda, 6);
    expect(first.every((v) => v === 0 || v === 4)).toBe(true);
  });

  it("does nothing when mixing is off or not drawn", () => {
    const batch = constantBatch();
    expect(mixBatch(batch, base, forbiddenRandom).kind).toBe("none");
    expect(mixBatch(batch, { ...base, mixupAlpha: 1, mixProbability: 0 }, createRandom(1)).kind).toBe("none");
    expect(batch).toEqual(constantBatch());
  });

  it("picks both kinds over many batches when both are on", () => {
    const kinds = new Set<string>();
    const random = createRandom(2);
    for (let i = 0; i < 20; i++)
      kinds.add(mixBatch(constantBatch(), { ...base, mixupAlpha: 0.8, cutmixAlpha: 1 }, random).kind);
    expect(kinds).toEqual(new Set(["mixup", "cutmix"]));
  });
});
