import * as tf from "@tensorflow/tfjs";
import type { Random } from "../core/random.ts";
import { transformerBlock } from "./block.ts";
import { gridSide, type ViTConfig } from "./config.ts";
import { embedPatches } from "./embed.ts";
import { classifierHead } from "./head.ts";
import type { WeightMap } from "./params.ts";

export interface ForwardOptions {
  /** Input side r of this pass; x must be [B, r, r, C]. */
  readonly side: number;
  /** One flag per block held in `weights`; inactive blocks are the identity. */
  readonly activeBlocks: readonly boolean[];
  /** Stochastic depth while training: the drop rate of the deepest block and the generator. */
  readonly dropPath?: { readonly rate: number; readonly random: Random };
}

/** DeiT-style ViT forward pass with an elastic depth mask and input side. Returns logits [B, classes]. */
export function forward(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor4D,
  options: ForwardOptions,
): tf.Tensor2D {
  const [batch, height, width, channels] = x.shape;
  if (height !== options.side || width !== options.side) {
    throw new Error(`input is ${height}×${width} but the pass was asked for side ${options.side}`);
  }
  if (channels !== config.channels)
    throw new Error(`input has ${channels} channels, model ${config.channels}`);
  const grid = gridSide(config, options.side);
  const tokens = grid * grid + 1;

  let stream = embedPatches(config, weights, x, grid); // [B·N, D]
  const depth = options.activeBlocks.length;
  for (let i = 0; i < depth; i++) {
    if (!options.activeBlocks[i]) continue;
    const keep = options.dropPath ? dropPathMask(batch, tokens, options.dropPath, i, depth) : null;
    stream = transformerBlock(config, weights, stream, { batch, tokens, index: i, keep });
    keep?.dispose();
  }
  return classifierHead(config, weights, stream, { batch, tokens });
}

/** Stochastic depth: drop rate grows linearly with the block index (DeiT's rule). */
function dropPathMask(
  batch: number,
  tokens: number,
  dropPath: NonNullable<ForwardOptions["dropPath"]>,
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
  dropPath: NonNullable<ForwardOptions["dropPath"]>,
  index: number,
  depth: number,
): Float32Array | null {
  const rate = depth > 1 ? (dropPath.rate * index) / (depth - 1) : dropPath.rate;
  if (rate <= 0) return null;
  return Float32Array.from({ length: batch }, () => (dropPath.random() >= rate ? 1 / (1 - rate) : 0));
}

/** All blocks active. */
export function fullMask(depth: number): boolean[] {
  return Array.from({ length: depth }, () => true);
}
