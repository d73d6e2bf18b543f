import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CIFAR10_FILES } from "../../src/data/cifar10.ts";
import { loadDataset } from "../../src/data/dataset.ts";

const root = mkdtempSync(join(tmpdir(), "cifar10-fake-"));
const RECORD = 1 + 3072;

/** The CHW byte stored for (record, channel, row, column) in the fake files. */
function fakePixel(record: number, c: number, y: number, x: number): number {
  return (record * 31 + c * 101 + y * 7 + x * 3) % 256;
}

/** A batch file of `count` records, numbered from `first`, labelled record % 10. */
function writeBatch(file: string, first: number, count: number): void {
  const bytes = new Uint8Array(count * RECORD);
  for (let n = 0; n < count; n++) {
    const record = first + n;
    bytes[n * RECORD] = record % 10;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) {
        bytes[n * RECORD + 1 + c * 1024 + p] = fakePixel(record, c, Math.floor(p / 32), p % 32);
      }
    }
  }
  writeFileSync(join(root, file), bytes);
}

describe("CIFAR-10 binary batches", () => {
  // Only the first two train files exist: a limit must stop before the missing third.
  writeBatch(CIFAR10_FILES.train[0] ?? "", 0, 2);
  writeBatch(CIFAR10_FILES.train[1] ?? "", 2, 2);
  writeBatch("test_batch.bin", 100, 3);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("decodes CHW records into HWC images with their labels", async () => {
    const ds = await loadDataset("cifar10", "test", { root });
    expect(ds).toMatchObject({
      name: "cifar10",
      count: 3,
      height: 32,
      width: 32,
      channels: 3,
      numClasses: 10,
    });
    expect(Array.from(ds.labels)).toEqual([0, 1, 2]);
    expect(ds.mean).toHaveLength(3);
    for (const [n, y, x, c] of [
      [0, 0, 0, 0],
      [1, 5, 17, 2],
      [2, 31, 31, 1],
    ] as const) {
      expect(ds.images[((n * 32 + y) * 32 + x) * 3 + c]).toBe(fakePixel(100 + n, c, y, x));
    }
  });

  it("reads train files in order and only as many as the limit needs", async () => {
    const ds = await loadDataset("cifar10", "train", { root, limit: 3 });
    expect(ds.count).toBe(3);
    expect(ds.images.length).toBe(3 * 3072);
    expect(Array.from(ds.labels)).toEqual([0, 1, 2]);
    expect(ds.images[((2 * 32 + 4) * 32 + 9) * 3 + 1]).toBe(fakePixel(2, 1, 4, 9));
  });

  it("names the missing batch file", async () => {
    await expect(loadDataset("cifar10", "train", { root })).rejects.toThrow(join(root, "data_batch_3.bin"));
    await expect(loadDataset("cifar10", "test", { root: join(root, "nope") })).rejects.toThrow(
      join(root, "nope", "test_batch.bin"),
    );
  });

  it("rejects a file that is not whole records", async () => {
    const bad = mkdtempSync(join(tmpdir(), "cifar10-bad-"));
    writeFileSync(join(bad, "test_batch.bin"), new Uint8Array(RECORD + 5));
    await expect(loadDataset("cifar10", "test", { root: bad })).rejects.toThrow("not a multiple of 3073");
    rmSync(bad, { recursive: true, force: true });
  });
});
