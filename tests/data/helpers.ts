/** Small fixtures shared by the data tests. */

import type { Random } from "../../src/core/random.ts";
import type { ImageDataset } from "../../src/data/dataset.ts";

/** Byte-level equality without vitest's slow element-by-element diff on big arrays. */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** A Random that replays the given values in order and fails loudly when they run out. */
export function sequenceRandom(values: readonly number[]): Random {
  let i = 0;
  return () => {
    const value = values[i++];
    if (value === undefined) throw new Error("sequenceRandom ran out of values");
    return value;
  };
}

/** A Random that must not be called (evaluation paths). */
export const forbiddenRandom: Random = () => {
  throw new Error("random must not be used here");
};

/** A tiny dataset whose pixel values encode (image, y, x, channel), labels cycling through classes. */
export function syntheticDataset(
  count: number,
  side: number,
  channels: number,
  numClasses = 10,
): ImageDataset {
  const images = new Uint8Array(count * side * side * channels);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + (i >> 7)) % 256;
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % numClasses;
  return {
    name: channels === 3 ? "cifar10" : "mnist",
    split: "train",
    images,
    labels,
    count,
    height: side,
    width: side,
    channels,
    numClasses,
    mean: Array.from({ length: channels }, () => 0.5),
    std: Array.from({ length: channels }, () => 0.25),
  };
}

/** Per-class counts of a label array. */
export function classCounts(labels: Uint8Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/** Mean and standard deviation of bytes on the [0, 1] scale. */
export function byteStats(bytes: Uint8Array): { mean: number; std: number } {
  let sum = 0;
  let sumSquares = 0;
  for (const value of bytes) {
    sum += value;
    sumSquares += value * value;
  }
  const mean = sum / bytes.length;
  const variance = sumSquares / bytes.length - mean * mean;
  return { mean: mean / 255, std: Math.sqrt(variance) / 255 };
}
