import type * as tf from "@tensorflow/tfjs";
import { transformerBlock } from "./block.ts";
import { gridSide, resnetShapeOf, type ViTConfig, voloShapeOf } from "./config.ts";
import { dropPathMask } from "./drop-path.ts";
import { embedPatches } from "./embed.ts";
import type { ForwardOptions } from "./forward-options.ts";
import { classifierHead } from "./head.ts";
import type { WeightMap } from "./params.ts";
import { resnetForward } from "./resnet.ts";
import { voloForward } from "./volo.ts";

export { dropPathKeep } from "./drop-path.ts";
export type { ForwardOptions } from "./forward-options.ts";

/**
 * DeiT-style ViT forward pass with an elastic depth mask and input side (VOLO's or a
 * ResNet's, for their configs). Returns logits [B, classes].
 */
export function forward(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor4D,
  options: ForwardOptions,
): tf.Tensor2D {
  if (voloShapeOf(config)) return voloForward(config, weights, x, options);
  if (resnetShapeOf(config)) return resnetForward(config, weights, x, options);
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

/** All blocks active. */
export function fullMask(depth: number): boolean[] {
  return Array.from({ length: depth }, () => true);
}
