import { describe, expect, it } from "vitest";
import { loadDataset, sliceDataset } from "../../src/data/dataset.ts";
import { loadMnist } from "../../src/data/mnist.ts";
import { byteStats, classCounts } from "./helpers.ts";

describe("MNIST", () => {
  it("loads a limited train prefix with the right shapes and every class", async () => {
    const ds = await loadDataset("mnist", "train", { limit: 1000 });
    expect(ds).toMatchObject({
      name: "mnist",
      split: "train",
      count: 1000,
      height: 28,
      width: 28,
      channels: 1,
    });
    expect(ds.numClasses).toBe(10);
    expect(ds.images.length).toBe(1000 * 28 * 28);
    expect(ds.labels.length).toBe(1000);
    expect(Math.max(...ds.labels)).toBeLessThanOrEqual(9);
    expect(classCounts(ds.labels, 10).every((count) => count > 60)).toBe(true);
    // The official train file starts with a 5 (and the test file with a 7).
    expect(ds.labels[0]).toBe(5);
  });

  it("has the official 60,000/10,000 split and matching normalisation statistics", async () => {
    const [train, test] = await Promise.all([loadDataset("mnist", "train"), loadDataset("mnist", "test")]);
    expect(train.count).toBe(60_000);
    expect(test.count).toBe(10_000);
    expect(test.images.length).toBe(10_000 * 784);
    expect(test.labels[0]).toBe(7);
    const stats = byteStats(train.images);
    expect(stats.mean).toBeCloseTo(train.mean[0] ?? 0, 3);
    expect(stats.std).toBeCloseTo(train.std[0] ?? 0, 3);
  });

  it("slices as views on the same memory", async () => {
    const ds = await loadDataset("mnist", "test", { limit: 100 });
    const slice = sliceDataset(ds, 10, 5);
    expect(slice.count).toBe(5);
    expect(slice.labels).toEqual(ds.labels.subarray(10, 15));
    expect(slice.images.buffer).toBe(ds.images.buffer);
    expect(slice.images.byteOffset).toBe(ds.images.byteOffset + 10 * 784);
    expect(() => sliceDataset(ds, 96, 5)).toThrow(RangeError);
  });

  it("names the missing file", async () => {
    await expect(loadMnist("test", "/nonexistent/mnist")).rejects.toThrow(
      "/nonexistent/mnist/t10k-images-idx3-ubyte",
    );
  });

  it("rejects a bad limit", async () => {
    await expect(loadDataset("mnist", "test", { limit: 0 })).rejects.toThrow(RangeError);
    await expect(loadDataset("mnist", "test", { limit: 2.5 })).rejects.toThrow(RangeError);
  });
});
