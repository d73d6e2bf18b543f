/**
 * Batch-level mixup (Zhang et al. 2018) and cutmix (Yun et al. 2019), as timm's `Mixup` in
 * batch mode: image i is mixed with image size-1-i (the batch reversed) using one lambda
 * per batch. Targets become the matching mixture of one-hot rows; label smoothing is the
 * loss's job.
 */

import { type Random, randomBeta, randomInt } from "../core/random.ts";
import type { AugmentOptions } from "./augment.ts";

export type MixKind = "none" | "mixup" | "cutmix";

export interface MixResult {
  kind: MixKind;
  /** Weight of each image's own target (after cutmix's box clipping). */
  lambda: number;
}

export interface MixTarget {
  /** [size, side, side, channels], modified in place. */
  x: Float32Array;
  /** [size, numClasses], modified in place. */
  targets: Float32Array;
  size: number;
  side: number;
  channels: number;
  numClasses: number;
}

/**
 * Draws, in order: whether to mix (when mixProbability < 1), which kind (when both alphas
 * are on), lambda, and for cutmix the box centre (row, column).
 */
export function mixBatch(batch: MixTarget, options: AugmentOptions, random: Random): MixResult {
  const { mixupAlpha, cutmixAlpha, mixProbability } = options;
  if (mixupAlpha <= 0 && cutmixAlpha <= 0) return { kind: "none", lambda: 1 };
  if (mixProbability < 1 && random() >= mixProbability) return { kind: "none", lambda: 1 };
  const useCutmix = cutmixAlpha > 0 && (mixupAlpha <= 0 || random() < 0.5);
  if (useCutmix) {
    const lambda = cutmix(batch, randomBeta(random, cutmixAlpha), random);
    mixTargets(batch, lambda);
    return { kind: "cutmix", lambda };
  }
  const lambda = randomBeta(random, mixupAlpha);
  mixup(batch, lambda);
  mixTargets(batch, lambda);
  return { kind: "mixup", lambda };
}

function mixup(batch: MixTarget, lambda: number): void {
  blendPairs(batch.x, batch.side * batch.side * batch.channels, batch.size, lambda);
}

/**
 * Row i becomes λ·row i + (1−λ)·row (size−1−i) and its partner the mirror blend, in place
 * (timm's batch mode pairs image i with image size−1−i).
 */
function blendPairs(rows: Float32Array, rowSize: number, size: number, lambda: number): void {
  for (let i = 0; i < size >> 1; i++) {
    const a = i * rowSize;
    const b = (size - 1 - i) * rowSize;
    for (let k = 0; k < rowSize; k++) {
      const va = rows[a + k] as number;
      const vb = rows[b + k] as number;
      rows[a + k] = lambda * va + (1 - lambda) * vb;
      rows[b + k] = lambda * vb + (1 - lambda) * va;
    }
  }
}

/** Swaps one box between each pair; returns lambda corrected for the box's clipped area. */
function cutmix(batch: MixTarget, lambda: number, random: Random): number {
  const { x, size, side, channels } = batch;
  const cut = Math.floor(side * Math.sqrt(1 - lambda));
  const cy = randomInt(random, side);
  const cx = randomInt(random, side);
  const y0 = clamp(cy - (cut >> 1), side);
  const y1 = clamp(cy + (cut >> 1), side);
  const x0 = clamp(cx - (cut >> 1), side);
  const x1 = clamp(cx + (cut >> 1), side);
  const imageSize = side * side * channels;
  const rowLength = (x1 - x0) * channels;
  for (let i = 0; i < size >> 1; i++) {
    const a = i * imageSize;
    const b = (size - 1 - i) * imageSize;
    for (let y = y0; y < y1; y++) {
      const row = (y * side + x0) * channels;
      for (let k = row; k < row + rowLength; k++) {
        const tmp = x[a + k] as number;
        x[a + k] = x[b + k] as number;
        x[b + k] = tmp;
      }
    }
  }
  return 1 - ((y1 - y0) * (x1 - x0)) / (side * side);
}

function mixTargets(batch: MixTarget, lambda: number): void {
  blendPairs(batch.targets, batch.numClasses, batch.size, lambda);
}

function clamp(value: number, side: number): number {
  return Math.min(side, Math.max(0, value));
}
