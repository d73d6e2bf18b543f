import * as tf from "@tensorflow/tfjs";
import { denseBackward, denseForward } from "./backward.ts";
import { transformerBlock } from "./block.ts";
import { classBlock } from "./class-block.ts";
import { depthParts, gridSide, type ViTConfig } from "./config.ts";
import { dropPathMask } from "./drop-path.ts";
import type { ForwardOptions } from "./forward-options.ts";
import { classifierHead } from "./head.ts";
import { outlooker } from "./outlooker.ts";
import { requireWeight, type WeightMap } from "./params.ts";
import { resizePosGrid } from "./pos-embed.ts";
import { requireVolo } from "./volo-params.ts";

/**
 * VOLO forward pass with an elastic depth mask and input side: patch stem onto the outlooker
 * grid (side / s), outlookers, 2×2 patch merge onto the token grid (side / 2s) plus the
 * position table (resized like the ViT's), transformer blocks, the class token, class-attention
 * blocks, final norm and head on the class token. Returns logits [B, classes].
 *
 * The growable blocks are `blocks.0..D−1` of the held depth D: the first o(D) outlookers, the
 * rest transformer blocks; stochastic depth's rate rises over all D, as for the ViT.
 */
export function voloForward(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor4D,
  options: ForwardOptions,
): tf.Tensor2D {
  const volo = requireVolo(config);
  const [batch, height, width, channels] = x.shape;
  if (height !== options.side || width !== options.side) {
    throw new Error(`input is ${height}×${width} but the pass was asked for side ${options.side}`);
  }
  if (channels !== config.channels)
    throw new Error(`input has ${channels} channels, model ${config.channels}`);
  const tokenGrid = gridSide(config, options.side);
  const fine = 2 * tokenGrid; // outlooker grid
  const w = (name: string) => requireWeight(weights, name);
  const depth = options.activeBlocks.length;
  const [outlookers = 0] = depthParts(config, depth);

  // [B, r, r, C] → [B·H·W, s·s·C] → [B·H·W, C1]
  let fineStream = dense(
    patches(x, batch, fine, volo.stemPatch, channels),
    w("embed.patch.w"),
    w("embed.patch.b"),
  );
  for (let i = 0; i < outlookers; i++) {
    if (!options.activeBlocks[i]) continue;
    const keep = options.dropPath ? dropPathMask(batch, fine * fine, options.dropPath, i, depth) : null;
    fineStream = outlooker(config, weights, fineStream, { batch, grid: fine, index: i, keep });
    keep?.dispose();
  }
  // 2×2 patch merge: [B·H·W, C1] → [B·g·g, 4·C1] → [B·g·g, D], then the position table.
  const merged = patches(
    tf.reshape(fineStream, [batch, fine, fine, volo.outlookerWidth]) as tf.Tensor4D,
    batch,
    tokenGrid,
    2,
    volo.outlookerWidth,
  );
  const tokens = tokenGrid * tokenGrid;
  const pos = resizePosGrid(w("embed.pos") as tf.Tensor2D, tokenGrid); // [g·g, D]
  const down = tf.reshape(dense(merged, w("embed.down.w"), w("embed.down.b")), [batch, tokens, config.width]);
  let stream = tf.reshape(tf.add(down, pos), [batch * tokens, config.width]) as tf.Tensor2D;
  for (let i = outlookers; i < depth; i++) {
    if (!options.activeBlocks[i]) continue;
    const keep = options.dropPath ? dropPathMask(batch, tokens, options.dropPath, i, depth) : null;
    stream = transformerBlock(config, weights, stream, { batch, tokens, index: i, keep });
    keep?.dispose();
  }
  // The class token joins only now (VOLO's post-network), in front of each image's tokens.
  const cls = tf.add(tf.zeros([batch, 1, config.width]), tf.reshape(w("embed.cls"), [1, 1, config.width]));
  const withCls = { batch, tokens: tokens + 1 };
  stream = tf.reshape(tf.concat([cls, tf.reshape(stream, [batch, tokens, config.width])], 1), [
    batch * withCls.tokens,
    config.width,
  ]) as tf.Tensor2D;
  for (let j = 0; j < volo.classBlocks; j++)
    stream = classBlock(config, weights, stream, { ...withCls, index: j });
  return classifierHead(config, weights, stream, withCls);
}

/** [B, G·p, G·p, C] → [B·G·G, p·p·C] (row-major patches), rank-4 transposes only. */
function patches(x: tf.Tensor4D, batch: number, grid: number, patch: number, channels: number): tf.Tensor2D {
  const rows = tf.reshape(x, [batch * grid, patch, grid, patch * channels]);
  return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [
    batch * grid * grid,
    patch * patch * channels,
  ]) as tf.Tensor2D;
}

/** x·W + b with the wasm-friendly backward (explicit transposes, no flags). */
function dense(x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, w, b] = args as [tf.Tensor2D, tf.Tensor, tf.Tensor];
    save([input]);
    return {
      value: denseForward(input, w, b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => denseBackward(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, w)),
    };
  }) as (...tensors: tf.Tensor[]) => tf.Tensor2D;
  return op(x, weight, bias);
}
