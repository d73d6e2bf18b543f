import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ImageDataset, loadDataset } from "../../src/data/dataset.ts";
import { fashionMnistCachePath } from "../../src/data/fashion-mnist.ts";
import { byteStats, classCounts, sameBytes } from "./helpers.ts";

// A private cache folder, so the first load really parses the JSON and later ones read the cache.
const cacheDir = mkdtempSync(join(tmpdir(), "fashion-mnist-cache-"));
let train: ImageDataset;
let test: ImageDataset;

function imageKeys(ds: ImageDataset): string[] {
  const keys: string[] = [];
  for (let i = 0; i < ds.count; i++) {
    keys.push(
      createHash("sha1")
        .update(ds.images.subarray(i * 784, (i + 1) * 784))
        .digest("hex"),
    );
  }
  return keys;
}

describe("Fashion-MNIST", () => {
  beforeAll(async () => {
    train = await loadDataset("fashion-mnist", "train", { cacheDir });
    test = await loadDataset("fashion-mnist", "test", { cacheDir });
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it("splits 6,000/1,000 valid images per class into 60,000/10,000", () => {
    expect(train).toMatchObject({ count: 60_000, height: 28, width: 28, channels: 1, numClasses: 10 });
    expect(test.count).toBe(10_000);
    expect(train.images.length).toBe(60_000 * 784);
    expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(6000));
    expect(classCounts(test.labels, 10)).toEqual(new Array(10).fill(1000));
  });

  // No package row lands in both splits, but the package (like the original dataset) holds
  // byte-identical duplicate images: 42 within train and 12 test images that also occur in
  // train, one of them under another label. Pinning the count catches any real leak.
  it("puts no image in both splits beyond the package's own duplicates", () => {
    const trainKeys = new Set(imageKeys(train));
    const testKeys = imageKeys(test);
    expect(new Set(testKeys).size).toBe(10_000);
    expect(testKeys.filter((key) => trainKeys.has(key)).length).toBe(12);
  });

  it("interleaves classes so a limited prefix is balanced", async () => {
    const prefix = await loadDataset("fashion-mnist", "train", { cacheDir, limit: 95 });
    expect(prefix.count).toBe(95);
    expect(classCounts(prefix.labels, 10)).toEqual([10, 10, 10, 10, 10, 9, 9, 9, 9, 9]);
    expect(Array.from(prefix.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(sameBytes(prefix.images, train.images.subarray(0, 95 * 784))).toBe(true);
  });

  it("reads back from the cache exactly what the parse produced", async () => {
    const path = fashionMnistCachePath(cacheDir, "train");
    expect(statSync(path).size).toBe(8 + 60_000 * 785);
    const cached = await loadDataset("fashion-mnist", "train", { cacheDir });
    expect(sameBytes(cached.images, train.images)).toBe(true);
    expect(sameBytes(cached.labels, train.labels)).toBe(true);
  });

  it("rebuilds a truncated cache", async () => {
    const path = fashionMnistCachePath(cacheDir, "test");
    truncateSync(path, 1000);
    const rebuilt = await loadDataset("fashion-mnist", "test", { cacheDir });
    expect(statSync(path).size).toBe(8 + 10_000 * 785);
    expect(sameBytes(rebuilt.images, test.images)).toBe(true);
    expect(sameBytes(rebuilt.labels, test.labels)).toBe(true);
    expect(readdirSync(cacheDir).filter((file) => file.endsWith(".tmp"))).toEqual([]);
  });

  it("normalises with statistics that match the train split", () => {
    const stats = byteStats(train.images);
    expect(stats.mean).toBeCloseTo(train.mean[0] ?? 0, 3);
    expect(stats.std).toBeCloseTo(train.std[0] ?? 0, 3);
  });
});
