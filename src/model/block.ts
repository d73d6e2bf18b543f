import * as tf from "@tensorflow/tfjs";
import {
  denseBackward,
  denseForward,
  geluBackward,
  geluForward,
  layerNormBackward,
  layerNormForward,
  softmaxBackward,
} from "./backward.ts";
import type { ViTConfig } from "./config.ts";
import { blockPrefix, requireWeight, type WeightMap } from "./params.ts";

/**
 * One pre-norm transformer block, x + attn(LN(x)) then x + mlp(LN(x)), as a single autograd node
 * with a hand-written backward pass. Stock autograd spends ~270 kernels on a block's backward
 * (Identity/Reshape/Cast bookkeeping around every op); this one spends ~70, which is what lets an
 * accelerator's per-kernel dispatch cost stop dominating a step.
 */

/** The block's weights in the order the custom gradient receives them (rezero, when held, last). */
const BLOCK_WEIGHTS = [
  "norm1.gamma",
  "norm1.beta",
  "attn.qkv.w",
  "attn.qkv.b",
  "attn.proj.w",
  "attn.proj.b",
  "norm2.gamma",
  "norm2.beta",
  "mlp.fc1.w",
  "mlp.fc1.b",
  "mlp.fc2.w",
  "mlp.fc2.b",
] as const;

export interface BlockShape {
  readonly batch: number;
  readonly tokens: number;
  readonly index: number;
  /** [B·N, 1] per-sample keep mask already divided by the keep probability, or null. */
  readonly keep: tf.Tensor | null;
}

interface BlockParams {
  readonly norm1Gamma: tf.Tensor;
  readonly norm1Beta: tf.Tensor;
  readonly qkvW: tf.Tensor;
  readonly qkvB: tf.Tensor;
  readonly projW: tf.Tensor;
  readonly projB: tf.Tensor;
  readonly norm2Gamma: tf.Tensor;
  readonly norm2Beta: tf.Tensor;
  readonly fc1W: tf.Tensor;
  readonly fc1B: tf.Tensor;
  readonly fc2W: tf.Tensor;
  readonly fc2B: tf.Tensor;
  readonly rezero: tf.Tensor | null;
}

function paramsOf(list: readonly tf.Tensor[]): BlockParams {
  const at = (i: number) => list[i] as tf.Tensor;
  return {
    norm1Gamma: at(0),
    norm1Beta: at(1),
    qkvW: at(2),
    qkvB: at(3),
    projW: at(4),
    projB: at(5),
    norm2Gamma: at(6),
    norm2Beta: at(7),
    fc1W: at(8),
    fc1B: at(9),
    fc2W: at(10),
    fc2B: at(11),
    rezero: list[12] ?? null,
  };
}

/** What the backward pass reads; the order is the order of `save` (each save is a kernel). */
const CACHE_KEYS = [
  "norm1",
  "rstd1",
  "ln1",
  "q",
  "k",
  "v",
  "probs",
  "merged",
  "norm2",
  "rstd2",
  "ln2",
  "preGelu",
  "cdf",
  "hidden",
] as const;
/** Read only for the ReZero scalar's gradient. */
const REZERO_CACHE_KEYS = ["attnOut", "mlpOut"] as const;
type BlockCache = Record<(typeof CACHE_KEYS)[number], tf.Tensor> &
  Partial<Record<(typeof REZERO_CACHE_KEYS)[number], tf.Tensor>>;

interface Geometry {
  readonly batch: number;
  readonly tokens: number;
  readonly heads: number;
  readonly headWidth: number;
  readonly width: number;
}

function geometry(config: ViTConfig, shape: BlockShape): Geometry {
  return {
    batch: shape.batch,
    tokens: shape.tokens,
    heads: config.heads,
    headWidth: config.width / config.heads,
    width: config.width,
  };
}

// Heads are laid out head-major, [H·B, N, dh]: splitting q, k, v and joining their gradients
// then cut and paste whole contiguous blocks (a strided slice is a slow JS loop on wasm), and
// attention does not care in which order its batch of heads comes.

/** [B·N, 3D] → q, k, v as [H·B, N, dh]: one transpose for all three. */
function splitHeads(qkv: tf.Tensor2D, g: Geometry): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  const { batch, tokens, heads, headWidth } = g;
  const all = tf.transpose(tf.reshape(qkv, [batch, tokens, 3 * heads, headWidth]), [2, 0, 1, 3]); // [3H, B, N, dh]
  const part = (i: number) =>
    tf.reshape(tf.slice(all, [i * heads, 0, 0, 0], [heads, batch, tokens, headWidth]), [
      heads * batch,
      tokens,
      headWidth,
    ]) as tf.Tensor3D; // [H·B, N, dh]
  return [part(0), part(1), part(2)];
}

/** The inverse of splitHeads for the three gradients: → [B·N, 3D]. */
function joinHeads(parts: readonly tf.Tensor[], g: Geometry): tf.Tensor2D {
  const { batch, tokens, heads, headWidth } = g;
  const stacked = tf.concat(
    parts.map((t) => tf.reshape(t, [heads, batch, tokens, headWidth])),
    0,
  ); // [3H, B, N, dh]
  return tf.reshape(tf.transpose(stacked, [1, 2, 0, 3]), [batch * tokens, 3 * g.width]) as tf.Tensor2D;
}

/** [H·B, N, dh] → [B·N, D]. */
function mergeHeads(t: tf.Tensor, g: Geometry): tf.Tensor2D {
  const { batch, tokens, heads, headWidth } = g;
  return tf.reshape(tf.transpose(tf.reshape(t, [heads, batch, tokens, headWidth]), [1, 2, 0, 3]), [
    batch * tokens,
    g.width,
  ]) as tf.Tensor2D;
}

/** [B·N, D] → [H·B, N, dh]. */
function toHeads(t: tf.Tensor, g: Geometry): tf.Tensor3D {
  const { batch, tokens, heads, headWidth } = g;
  return tf.reshape(tf.transpose(tf.reshape(t, [batch, tokens, heads, headWidth]), [2, 0, 1, 3]), [
    heads * batch,
    tokens,
    headWidth,
  ]) as tf.Tensor3D;
}

/** A residual branch's output times the ReZero scalar and the drop-path mask, when present. */
function scaleBranch(out: tf.Tensor, rezero: tf.Tensor | null, keep: tf.Tensor | null): tf.Tensor {
  const scaled = rezero ? tf.mul(out, rezero) : out;
  return keep ? tf.mul(scaled, keep) : scaled;
}

function blockForward(
  g: Geometry,
  x: tf.Tensor2D,
  w: BlockParams,
  keep: tf.Tensor | null,
): { y: tf.Tensor2D; cache: BlockCache } {
  const ln1 = layerNormForward(x, w.norm1Gamma, w.norm1Beta);
  const [qRaw, k, v] = splitHeads(denseForward(ln1.out, w.qkvW, w.qkvB), g);
  const q = tf.mul(qRaw, 1 / Math.sqrt(g.headWidth)); // scaled once, so scores = q·kᵀ
  const probs = tf.softmax(tf.matMul(q, k, false, true)); // [H·B, N, N]
  const merged = mergeHeads(tf.matMul(probs, v), g);
  const attnOut = denseForward(merged, w.projW, w.projB);
  const y1 = tf.add(x, scaleBranch(attnOut, w.rezero, keep)) as tf.Tensor2D;
  const ln2 = layerNormForward(y1, w.norm2Gamma, w.norm2Beta);
  const preGelu = denseForward(ln2.out, w.fc1W, w.fc1B);
  const gelu = geluForward(preGelu);
  const mlpOut = denseForward(gelu.out, w.fc2W, w.fc2B);
  const y = tf.add(y1, scaleBranch(mlpOut, w.rezero, keep)) as tf.Tensor2D;
  const cache: BlockCache = {
    norm1: ln1.cache.normalised,
    rstd1: ln1.cache.rstd,
    ln1: ln1.out,
    q,
    k,
    v,
    probs,
    merged,
    attnOut,
    norm2: ln2.cache.normalised,
    rstd2: ln2.cache.rstd,
    ln2: ln2.out,
    preGelu,
    cdf: gelu.cdf,
    hidden: gelu.out,
    mlpOut,
  };
  return { y, cache };
}

/** Gradients for [x, …BLOCK_WEIGHTS, rezero?]. */
function blockBackward(
  g: Geometry,
  dy: tf.Tensor2D,
  c: BlockCache,
  w: BlockParams,
  keep: tf.Tensor | null,
): tf.Tensor[] {
  const as2d = (t: tf.Tensor) => t as tf.Tensor2D;
  // MLP branch: y = y1 + s(mlpOut)
  const dMlpOut = as2d(scaleBranch(dy, w.rezero, keep));
  const [dHidden, dFc2W, dFc2B] = denseBackward(dMlpOut, as2d(c.hidden), w.fc2W);
  const dPreGelu = geluBackward(as2d(dHidden), as2d(c.preGelu), as2d(c.cdf));
  const [dLn2, dFc1W, dFc1B] = denseBackward(dPreGelu, as2d(c.ln2), w.fc1W);
  const [dY1Norm, dNorm2Gamma, dNorm2Beta] = layerNormBackward(
    as2d(dLn2),
    { normalised: as2d(c.norm2), rstd: as2d(c.rstd2) },
    w.norm2Gamma,
  );
  const dY1 = as2d(tf.add(dy, dY1Norm));
  // Attention branch: y1 = x + s(attnOut)
  const dAttnOut = as2d(scaleBranch(dY1, w.rezero, keep));
  const [dMerged, dProjW, dProjB] = denseBackward(dAttnOut, as2d(c.merged), w.projW);
  const dMixed = toHeads(dMerged, g);
  const dProbs = tf.matMul(dMixed, c.v as tf.Tensor3D, false, true);
  const dV = tf.matMul(c.probs as tf.Tensor3D, dMixed, true, false);
  const dScores = softmaxBackward(dProbs, c.probs) as tf.Tensor3D;
  const dQ = tf.mul(tf.matMul(dScores, c.k as tf.Tensor3D), 1 / Math.sqrt(g.headWidth));
  const dK = tf.matMul(dScores, c.q as tf.Tensor3D, true, false);
  const [dLn1, dQkvW, dQkvB] = denseBackward(joinHeads([dQ, dK, dV], g), as2d(c.ln1), w.qkvW);
  const [dXNorm, dNorm1Gamma, dNorm1Beta] = layerNormBackward(
    as2d(dLn1),
    { normalised: as2d(c.norm1), rstd: as2d(c.rstd1) },
    w.norm1Gamma,
  );
  const grads = [
    tf.add(dY1, dXNorm),
    dNorm1Gamma,
    dNorm1Beta,
    dQkvW,
    dQkvB,
    dProjW,
    dProjB,
    dNorm2Gamma,
    dNorm2Beta,
    dFc1W,
    dFc1B,
    dFc2W,
    dFc2B,
  ];
  if (w.rezero) {
    // The one scalar scales both branches: d/ds Σ dy·(o·s·keep) = Σ dy·o·keep, summed over both.
    const branchSum = (d: tf.Tensor, out: tf.Tensor) => tf.sum(tf.mul(d, keep ? tf.mul(out, keep) : out));
    const { mlpOut, attnOut } = c;
    if (!mlpOut || !attnOut) throw new Error("the block's forward pass kept no branch outputs");
    grads.push(tf.reshape(tf.add(branchSum(dy, mlpOut), branchSum(dY1, attnOut)), w.rezero.shape));
  }
  return grads;
}

/**
 * The block on the residual stream [B·N, D]. Differentiable in x and in every block weight
 * (including the ReZero scalar when the block holds one); the drop-path mask is a constant.
 */
export function transformerBlock(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor2D,
  shape: BlockShape,
): tf.Tensor2D {
  const prefix = blockPrefix(shape.index);
  const rezero = weights.get(`${prefix}rezero`);
  const inputs = [x, ...BLOCK_WEIGHTS.map((name) => requireWeight(weights, prefix + name))];
  if (rezero) inputs.push(rezero);
  const g = geometry(config, shape);
  const { keep } = shape;
  // The weights are read back from the closure: they outlive the backward pass (variables or
  // the caller's tensors), while activations are saved, since the forward scope releases them.
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, ...rest] = args as tf.Tensor[];
    const params = paramsOf(rest);
    const { y, cache } = blockForward(g, input as tf.Tensor2D, params, keep);
    const keys = params.rezero ? [...CACHE_KEYS, ...REZERO_CACHE_KEYS] : CACHE_KEYS;
    // The drop-path mask is saved too: made outside, it is released with the forward scope.
    save([...keys.map((key) => cache[key] as tf.Tensor), ...(keep ? [keep] : [])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const restored = Object.fromEntries(keys.map((key, i) => [key, saved[i]])) as BlockCache;
          const savedKeep = keep ? (saved[keys.length] as tf.Tensor) : null;
          return blockBackward(g, dy as tf.Tensor2D, restored, params, savedKeep);
        }),
    };
  }) as (...tensors: tf.Tensor[]) => tf.Tensor2D;
  return op(...inputs);
}
