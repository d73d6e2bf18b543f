/**
 * Epoch order and batch boundaries. The order depends only on (seed, epoch), so a run
 * resumed at an epoch boundary replays the same batches without saved generator state.
 */

import { createRandom, permutation } from "../core/random.ts";

/** Separates the shuffle stream from every other stream drawn from the same seed. */
const SHUFFLE_PURPOSE = 0x53485546; // "SHUF"

/** A seeded permutation of 0..count-1 for this epoch. */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return permutation(createRandom(seed, SHUFFLE_PURPOSE, epoch), count);
}

/**
 * Consecutive batches of `order` as views (no copies). With `dropLast` a final short batch
 * is dropped, which keeps every training step the same shape.
 */
export function batchSlices(order: Int32Array, batchSize: number, dropLast: boolean): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const end = dropLast ? order.length - (order.length % batchSize) : order.length;
  const slices: Int32Array[] = [];
  for (let start = 0; start < end; start += batchSize) {
    slices.push(order.subarray(start, Math.min(start + batchSize, end)));
  }
  return slices;
}

/** Number of batches per epoch, consistent with batchSlices. */
export function batchCount(count: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}
