import * as tf from "@tensorflow/tfjs";
import type { Random } from "../core/random.ts";

/** Stochastic depth's draw, shared by the ViT and VOLO forward passes and the compiled step. */
export interface DropPath {
  readonly rate: number;
  readonly random: Random;
}

/** Stochastic depth: drop rate grows linearly with the block index (DeiT's rule). */
export function dropPathMask(
  batch: number,
  tokens: number,
  dropPath: DropPath,
  index: number,
  depth: number,
): tf.Tensor | null {
  const keep = dropPathKeep(batch, dropPath, index, depth);
  if (!keep) return null;
  const values = new Float32Array(batch * tokens);
  keep.forEach((factor, b) => {
    values.fill(factor, b * tokens, (b + 1) * tokens);
  });
  return tf.tensor2d(values, [batch * tokens, 1]);
}

/**
 * Block `index`'s per-sample keep factors (1/(1 − rate) or 0) of `depth` held blocks, drawn in
 * sample order; null (and no draw) when the block's rate is 0. Every engine draws them here, so
 * a step's masks are the same whichever engine runs it.
 */
export function dropPathKeep(
  batch: number,
  dropPath: DropPath,
  index: number,
  depth: number,
): Float32Array | null {
  const rate = depth > 1 ? (dropPath.rate * index) / (depth - 1) : dropPath.rate;
  if (rate <= 0) return null;
  return Float32Array.from({ length: batch }, () => (dropPath.random() >= rate ? 1 / (1 - rate) : 0));
}
