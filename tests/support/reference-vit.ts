import * as tf from "@tensorflow/tfjs";
import { gridSide, type ViTConfig } from "../../src/model/config.ts";
import { requireWeight, type WeightMap } from "../../src/model/params.ts";
import { resizePosEmbed } from "../../src/model/pos-embed.ts";
import { referenceBlock } from "./reference-block.ts";

/**
 * The whole ViT and its loss in plain tfjs ops under stock autograd: the formulation the engine
 * used before its hand-written backward passes, kept as the reference they are tested against.
 */
export function referenceLoss(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor4D,
  targets: tf.Tensor2D,
  options: { side: number; activeBlocks: readonly boolean[]; smoothing: number },
): tf.Scalar {
  const w = (name: string) => requireWeight(weights, name);
  const batch = x.shape[0];
  const p = config.patchSize;
  const c = config.channels;
  const d = config.width;
  const grid = gridSide(config, options.side);
  const tokens = grid * grid + 1;
  const rows = tf.reshape(x, [batch * grid, p, grid, p * c]);
  const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [batch * grid * grid, p * p * c]);
  const patchTokens = tf.reshape(
    tf.add(tf.matMul(patches, w("embed.patch.w") as tf.Tensor2D), w("embed.patch.b")),
    [batch, grid * grid, d],
  );
  const cls = tf.tile(tf.reshape(w("embed.cls"), [1, 1, d]), [batch, 1, 1]);
  const pos = resizePosEmbed(w("embed.pos") as tf.Tensor2D, grid);
  let stream = tf.reshape(tf.add(tf.concat([cls, patchTokens], 1), pos), [batch * tokens, d]) as tf.Tensor2D;
  options.activeBlocks.forEach((active, index) => {
    if (active) stream = referenceBlock(config, weights, stream, { batch, tokens, index, keep: null });
  });
  const first = tf.reshape(tf.slice(tf.reshape(stream, [batch, tokens, d]), [0, 0, 0], [batch, 1, d]), [
    batch,
    d,
  ]);
  const centred = tf.sub(first, tf.mean(first, -1, true));
  const normed = tf.add(
    tf.mul(tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-6))), w("norm.gamma")),
    w("norm.beta"),
  );
  const logits = tf.add(tf.matMul(normed as tf.Tensor2D, w("head.w") as tf.Tensor2D), w("head.b"));
  const classes = targets.shape[1];
  const smoothed = tf.add(tf.mul(targets, 1 - options.smoothing), options.smoothing / classes);
  return tf.neg(tf.mean(tf.sum(tf.mul(smoothed, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}
