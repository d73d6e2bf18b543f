import { describe, expect, it } from "vitest";
import { createRandom } from "../../src/core/random.ts";
import { DEFAULT_AUGMENT } from "../../src/data/augment.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { loadDataset } from "../../src/data/dataset.ts";
import { forbiddenRandom, syntheticDataset } from "./helpers.ts";

const indices = Int32Array.from([3, 0, 7, 7, 1]);

describe("makeBatch", () => {
  it("resizes 28-px MNIST to the model side with one-hot targets", async () => {
    const ds = await loadDataset("mnist", "test", { limit: 64 });
    const batch = makeBatch(
      ds,
      Int32Array.from({ length: 16 }, (_, i) => i),
      {
        side: 32,
        augment: DEFAULT_AUGMENT.mnist,
        random: createRandom(1),
      },
    );
    expect(batch).toMatchObject({ size: 16, side: 32, channels: 1, numClasses: 10 });
    expect(batch.x.length).toBe(16 * 32 * 32);
    expect(batch.targets.length).toBe(16 * 10);
    expect(Array.from(batch.labels)).toEqual(Array.from(ds.labels.subarray(0, 16)));
    for (let i = 0; i < 16; i++) {
      const row = Array.from(batch.targets.subarray(i * 10, (i + 1) * 10));
      expect(row[batch.labels[i] ?? -1]).toBe(1);
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
    }
    expect(batch.x.every(Number.isFinite)).toBe(true);
  });

  it("evaluation batches are deterministic, unaugmented and normalised", () => {
    const ds = syntheticDataset(10, 8, 3);
    const options = { side: 8, augment: null, random: forbiddenRandom };
    const a = makeBatch(ds, indices, options);
    expect(makeBatch(ds, indices, options)).toEqual(a);
    // Image 3, pixel (y=2, x=5), channel 1: (v / 255 - 0.5) / 0.25.
    const v = ds.images[((3 * 8 + 2) * 8 + 5) * 3 + 1] ?? 0;
    expect(a.x[((0 * 8 + 2) * 8 + 5) * 3 + 1]).toBeCloseTo((v / 255 - 0.5) / 0.25, 5);
  });

  it("training batches depend only on the random stream", () => {
    const ds = syntheticDataset(10, 8, 3);
    const augment = { ...DEFAULT_AUGMENT.cifar10, randomErasing: 0.5, mixupAlpha: 0.8, cutmixAlpha: 1 };
    const make = (seed: number) => makeBatch(ds, indices, { side: 12, augment, random: createRandom(seed) });
    expect(make(4)).toEqual(make(4));
    expect(make(4).x).not.toEqual(make(5).x);
    const mixed = make(4);
    for (let i = 0; i < mixed.size; i++) {
      const sum = mixed.targets.subarray(i * 10, (i + 1) * 10).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 6);
    }
  });

  it("rejects an index outside the dataset", () => {
    const ds = syntheticDataset(4, 8, 1);
    expect(() =>
      makeBatch(ds, Int32Array.from([4]), { side: 8, augment: null, random: forbiddenRandom }),
    ).toThrow(RangeError);
  });
});
