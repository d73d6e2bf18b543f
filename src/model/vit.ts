import * as tf from "@tensorflow/tfjs";
import type { Random } from "../core/random.ts";
import { gridSide, type ViTConfig } from "./config.ts";
import { dense, gelu, layerNorm } from "./layers.ts";
import { blockPrefix, requireWeight, type WeightMap } from "./params.ts";
import { resizePosEmbed } from "./pos-embed.ts";

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
  const w = (name: string) => requireWeight(weights, name);
  const grid = gridSide(config, options.side);
  const tokens = grid * grid + 1;
  const d = config.width;

  let stream = embed(config, weights, x, grid); // [B·N, D]
  const depth = options.activeBlocks.length;
  for (let i = 0; i < depth; i++) {
    if (!options.activeBlocks[i]) continue;
    const keep = options.dropPath ? dropPathMask(batch, tokens, options.dropPath, i, depth) : null;
    stream = block(config, weights, stream, { batch, tokens, index: i, keep });
    keep?.dispose();
  }
  const cls = tf.reshape(tf.slice(tf.reshape(stream, [batch, tokens, d]), [0, 0, 0], [batch, 1, d]), [
    batch,
    d,
  ]);
  const normed = layerNorm(cls, w("norm.gamma"), w("norm.beta"));
  return dense(normed, w("head.w"), w("head.b"));
}

/** Patches → tokens, class token prepended, resized position table added. Returns [B·N, D]. */
function embed(config: ViTConfig, weights: WeightMap, x: tf.Tensor4D, grid: number): tf.Tensor2D {
  const w = (name: string) => requireWeight(weights, name);
  const batch = x.shape[0];
  const p = config.patchSize;
  const c = config.channels;
  const d = config.width;
  // [B, r, r, C] → [B·g, p, g, p·C] → [B·g, g, p, p·C] → [B·g·g, p·p·C]; rank-4 transposes only.
  const rows = tf.reshape(x, [batch * grid, p, grid, p * c]);
  const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [batch * grid * grid, p * p * c]);
  const patchTokens = tf.reshape(dense(patches, w("embed.patch.w"), w("embed.patch.b")), [
    batch,
    grid * grid,
    d,
  ]);
  const cls = tf.tile(tf.reshape(w("embed.cls"), [1, 1, d]), [batch, 1, 1]); // [B, 1, D]
  const sequence = tf.concat([cls, patchTokens], 1); // [B, N, D]
  const pos = resizePosEmbed(w("embed.pos") as tf.Tensor2D, grid); // [N, D]
  return tf.reshape(tf.add(sequence, pos), [batch * (grid * grid + 1), d]);
}

interface BlockShape {
  readonly batch: number;
  readonly tokens: number;
  readonly index: number;
  /** [B·N, 1] per-sample keep mask already divided by the keep probability, or null. */
  readonly keep: tf.Tensor | null;
}

/** Pre-norm block: x + attn(LN(x)), then x + mlp(LN(x)); ReZero scalars when present. */
function block(config: ViTConfig, weights: WeightMap, x: tf.Tensor2D, shape: BlockShape): tf.Tensor2D {
  const p = blockPrefix(shape.index);
  const w = (name: string) => requireWeight(weights, p + name);
  const rezero = weights.get(`${p}rezero`);
  const branch = (out: tf.Tensor2D): tf.Tensor2D => {
    let scaled = rezero ? tf.mul(out, rezero) : out;
    if (shape.keep) scaled = tf.mul(scaled, shape.keep);
    return scaled as tf.Tensor2D;
  };
  const attended = attention(config, weights, layerNorm(x, w("norm1.gamma"), w("norm1.beta")), shape);
  const afterAttention = tf.add(x, branch(attended)) as tf.Tensor2D;
  const hidden = gelu(
    dense(layerNorm(afterAttention, w("norm2.gamma"), w("norm2.beta")), w("mlp.fc1.w"), w("mlp.fc1.b")),
  );
  return tf.add(afterAttention, branch(dense(hidden, w("mlp.fc2.w"), w("mlp.fc2.b")))) as tf.Tensor2D;
}

/** Multi-head self-attention on [B·N, D]. */
function attention(config: ViTConfig, weights: WeightMap, x: tf.Tensor2D, shape: BlockShape): tf.Tensor2D {
  const p = blockPrefix(shape.index);
  const w = (name: string) => requireWeight(weights, p + name);
  const { batch, tokens } = shape;
  const d = config.width;
  const heads = config.heads;
  const headWidth = d / heads;
  const toHeads = (t: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(t, [batch, tokens, heads, headWidth]), [0, 2, 1, 3]), [
      batch * heads,
      tokens,
      headWidth,
    ]); // [B·H, N, dh]
  const qkvWeight = w("attn.qkv.w");
  const qkvBias = w("attn.qkv.b");
  // Three products with column slices of the [D, 3D] weight: slicing the small weight is cheap,
  // while splitting the [B·N, 3D] activations (or a rank-5 transpose) is very slow on wasm.
  const project = (i: number) =>
    toHeads(dense(x, tf.slice(qkvWeight, [0, i * d], [d, d]), tf.slice(qkvBias, [i * d], [d])));
  const [q, k, v] = [project(0), project(1), project(2)];
  const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(headWidth)), k, false, true); // [B·H, N, N]
  const mixed = tf.matMul(tf.softmax(scores), v); // [B·H, N, dh]
  const merged = tf.reshape(
    tf.transpose(tf.reshape(mixed, [batch, heads, tokens, headWidth]), [0, 2, 1, 3]),
    [batch * tokens, d],
  ); // [B·N, D]
  return dense(merged, w("attn.proj.w"), w("attn.proj.b"));
}

/** Stochastic depth: drop rate grows linearly with the block index (DeiT's rule). */
function dropPathMask(
  batch: number,
  tokens: number,
  dropPath: NonNullable<ForwardOptions["dropPath"]>,
  index: number,
  depth: number,
): tf.Tensor | null {
  const rate = depth > 1 ? (dropPath.rate * index) / (depth - 1) : dropPath.rate;
  if (rate <= 0) return null;
  const values = new Float32Array(batch * tokens);
  for (let b = 0; b < batch; b++) {
    const keep = dropPath.random() >= rate ? 1 / (1 - rate) : 0;
    values.fill(keep, b * tokens, (b + 1) * tokens);
  }
  return tf.tensor2d(values, [batch * tokens, 1]);
}

/** All blocks active. */
export function fullMask(depth: number): boolean[] {
  return Array.from({ length: depth }, () => true);
}
