import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";
import { initBackend } from "../src/backend/select.ts";
import type { ViTConfig } from "../src/model/config.ts";

/** Tests run on the wasm backend (the CPU default), one per worker process. */
export async function useTestBackend(): Promise<void> {
  await initBackend({ preference: "wasm" });
}

/** A model small enough for exact checks in milliseconds. */
export const TINY_CONFIG: ViTConfig = {
  imageSize: 8,
  patchSize: 2,
  channels: 1,
  width: 8,
  depth: 3,
  heads: 2,
  mlpRatio: 2,
  numClasses: 3,
};

/** VOLO: 8-px images: 2-px stem patches → 4×4 outlooker grid → 2×2 tokens; 1 outlooker of 3 blocks. */
export const TINY_VOLO: ViTConfig = {
  family: "volo",
  imageSize: 8,
  patchSize: 4,
  channels: 1,
  width: 8,
  depth: 3,
  heads: 2,
  mlpRatio: 2,
  numClasses: 3,
  volo: {
    stemPatch: 2,
    outlookerWidth: 4,
    outlookerHeads: 2,
    outlookers: 1,
    outlookerMlpRatio: 2,
    classBlocks: 1,
  },
};

export function randomImages(batch: number, side: number, channels: number, seed: number): tf.Tensor4D {
  return tf.randomNormal([batch, side, side, channels], 0, 1, "float32", seed) as tf.Tensor4D;
}

export async function values(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

export function expectAllClose(got: readonly number[], want: readonly number[], tolerance: number): void {
  expect(got.length).toBe(want.length);
  const worst = Math.max(0, ...got.map((v, i) => Math.abs(v - (want[i] as number))));
  expect(worst).toBeLessThanOrEqual(tolerance);
}
