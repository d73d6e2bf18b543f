import * as tf from "@tensorflow/tfjs";
import { matMulT } from "./backward.ts";
import { depthParts, type ViTConfig } from "./config.ts";
import { dropPathKeep } from "./drop-path.ts";
import type { ForwardOptions } from "./forward-options.ts";
import { blockPrefix, requireWeight, type WeightMap } from "./params.ts";
import { requireResNet } from "./resnet-params.ts";

/**
 * A small ResNet through tfjs autograd: 3×3 convolutions as im2col (nine shifted slices of the
 * zero-padded map, concatenated, one matmul), because the wasm backend has no filter-gradient
 * kernel for conv2d; stride 2 samples the patch rows before the matmul. GroupNorm keeps no
 * running statistics, so a step and its resume see the same function and evaluation needs no
 * separate mode.
 *
 * Growable blocks `blocks.0..D−1` of the held depth D, stage by stage (core/resnet-config.ts);
 * each is relu(x + [rezero ·] [keep ·] GN(conv(relu(GN(conv(x)))))). Its input is a ReLU output,
 * so a zero ReZero scalar makes it exactly the identity (identity growth).
 */

export const GROUP_NORM_EPSILON = 1e-5;

/** [B, H, W, C] → [B, H/stride, W/stride, 9·C]: the 3×3 neighbourhoods (zero padding 1). */
export function im2col(x: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
  const taps: tf.Tensor4D[] = [];
  for (let dy = 0; dy < 3; dy++)
    for (let dx = 0; dx < 3; dx++)
      taps.push(tf.slice(padded, [0, dy, dx, 0], [batch, height, width, channels]));
  const columns = tf.concat(taps, 3);
  if (stride === 1) return columns;
  if (height % 2 !== 0 || width % 2 !== 0)
    throw new Error(`a stride-2 convolution needs an even map, not ${height}×${width}`);
  // Even rows and columns (PyTorch's padding-1 stride-2 convention), rank-4 slices only.
  const k = 9 * channels;
  const rows = tf.slice(
    tf.reshape(columns, [batch * (height / 2), 2, width, k]),
    [0, 0, 0, 0],
    [-1, 1, -1, -1],
  );
  const both = tf.slice(
    tf.reshape(rows, [batch * (height / 2), width / 2, 2, k]),
    [0, 0, 0, 0],
    [-1, -1, 1, -1],
  );
  return tf.reshape(both, [batch, height / 2, width / 2, k]);
}

/**
 * a·b whose gradients transpose explicitly (model/backward.ts matMulT): tfjs's own matMul
 * gradient uses the transpose flags, which the wasm backend runs on a scalar loop.
 */
const matMulExplicitGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const save = args.pop() as tf.GradSaveFunc;
  const [a, b] = args as [tf.Tensor2D, tf.Tensor2D];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [left, right] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [matMulT(dy as tf.Tensor, right, false, true), matMulT(left, dy as tf.Tensor, true, false)];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

export function conv3x3(x: tf.Tensor4D, weight: tf.Tensor, stride: 1 | 2): tf.Tensor4D {
  const columns = im2col(x, stride);
  const [batch, height, width, k] = columns.shape;
  const out = matMulExplicitGrad(tf.reshape(columns, [batch * height * width, k]), weight as tf.Tensor2D);
  return tf.reshape(out, [batch, height, width, weight.shape[1] as number]);
}

/** GroupNorm over each sample's (H, W, C/G) groups, then the per-channel affine map. */
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const grouped = tf.reshape(x, [batch, height * width, groups, channels / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 3], true);
  const normalised = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, GROUP_NORM_EPSILON)));
  return tf.add(tf.mul(tf.reshape(normalised, x.shape), gamma), beta) as tf.Tensor4D;
}

function convNormForward(
  weights: WeightMap,
  prefix: string,
  x: tf.Tensor4D,
  stride: 1 | 2,
  groups: number,
): tf.Tensor4D {
  const w = (name: string) => requireWeight(weights, `${prefix}${name}`);
  return groupNorm(conv3x3(x, w("conv.w"), stride), w("norm.gamma"), w("norm.beta"), groups);
}

/** Block `index` on x; `keep` scales its branch per sample (stochastic depth). */
export function resnetBlock(
  weights: WeightMap,
  x: tf.Tensor4D,
  index: number,
  groups: number,
  keep: tf.Tensor | null,
): tf.Tensor4D {
  const p = blockPrefix(index);
  const hidden = tf.relu(convNormForward(weights, `${p}1.`, x, 1, groups));
  let branch: tf.Tensor = convNormForward(weights, `${p}2.`, hidden, 1, groups);
  const rezero = weights.get(`${p}rezero`);
  if (rezero) branch = tf.mul(branch, rezero);
  if (keep) branch = tf.mul(branch, keep);
  return tf.relu(tf.add(x, branch)) as tf.Tensor4D;
}

/** ResNet forward pass with an elastic depth mask and input side. Returns logits [B, classes]. */
export function resnetForward(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor4D,
  options: ForwardOptions,
): tf.Tensor2D {
  const resnet = requireResNet(config);
  const [batch, height, width, channels] = x.shape;
  if (height !== options.side || width !== options.side)
    throw new Error(`input is ${height}×${width} but the pass was asked for side ${options.side}`);
  if (channels !== config.channels)
    throw new Error(`input has ${channels} channels, model ${config.channels}`);
  const depth = options.activeBlocks.length;
  const parts = depthParts(config, depth);
  let map = tf.relu(convNormForward(weights, "stem.", x, 1, resnet.groups)) as tf.Tensor4D;
  let index = 0;
  parts.forEach((blocks, stage) => {
    if (stage > 0)
      map = tf.relu(convNormForward(weights, `down.${stage}.`, map, 2, resnet.groups)) as tf.Tensor4D;
    for (let i = 0; i < blocks; i++, index++) {
      if (!options.activeBlocks[index]) continue;
      const factors = options.dropPath ? dropPathKeep(batch, options.dropPath, index, depth) : null;
      const keep = factors ? tf.tensor4d(factors, [batch, 1, 1, 1]) : null;
      map = resnetBlock(weights, map, index, resnet.groups, keep);
      keep?.dispose();
    }
  });
  const pooled = tf.mean(map, [1, 2]) as tf.Tensor2D;
  const logits = matMulExplicitGrad(pooled, requireWeight(weights, "head.w") as tf.Tensor2D);
  return tf.add(logits, requireWeight(weights, "head.b"));
}
