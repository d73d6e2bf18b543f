import * as tf from "@tensorflow/tfjs";

/**
 * Forward pieces that return what their backward needs, and those backward passes, written with
 * as few kernels as the math allows. The transformer block composes them under one custom
 * gradient, so the autograd tape records one node per block instead of ~60 ops (each of which
 * would add Identity/Reshape/Cast kernels on the way back).
 */

/**
 * A·B with Aᵀ or Bᵀ. The wasm backend runs any transposed (or batched) matmul on a scalar loop
 * ~10× slower than its XNNPACK 2-D path (tfjs-notes.md), so there the transpose is explicit; on
 * every other backend the flags are free and save a kernel.
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if (tf.getBackend() !== "wasm" || a.rank !== 2) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

/** x·W + b for x [M, K], W [K, N]. */
export function denseForward(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.add(tf.matMul(x, w), b) as tf.Tensor2D;
}

/** Gradients of x·W + b: [dx, dW, db]. */
export function denseBackward(
  dy: tf.Tensor2D,
  x: tf.Tensor2D,
  w: tf.Tensor,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return [matMulT(dy, w, false, true), matMulT(x, dy, true, false), tf.sum(dy, 0)];
}

export const LAYER_NORM_EPSILON = 1e-6;

export interface LayerNormCache {
  /** (x − mean) · rstd, [M, D]. */
  readonly normalised: tf.Tensor2D;
  /** 1 / √(var + ε), [M, 1]. */
  readonly rstd: tf.Tensor2D;
}

/** Layer normalisation over the last axis, keeping what the backward pass reads. */
export function layerNormForward(
  x: tf.Tensor2D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
): { out: tf.Tensor2D; cache: LayerNormCache } {
  const centred = tf.sub(x, tf.mean(x, -1, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), LAYER_NORM_EPSILON)) as tf.Tensor2D;
  const normalised = tf.mul(centred, rstd) as tf.Tensor2D;
  return { out: tf.add(tf.mul(normalised, gamma), beta) as tf.Tensor2D, cache: { normalised, rstd } };
}

/** Gradients of layer normalisation: [dx, dγ, dβ]. */
export function layerNormBackward(
  dy: tf.Tensor2D,
  cache: LayerNormCache,
  gamma: tf.Tensor,
): [tf.Tensor2D, tf.Tensor, tf.Tensor] {
  const { normalised, rstd } = cache;
  const dNormalised = tf.mul(dy, gamma);
  // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))
  const meanGrad = tf.mean(dNormalised, -1, true);
  const meanProjection = tf.mean(tf.mul(dNormalised, normalised), -1, true);
  const dx = tf.mul(tf.sub(tf.sub(dNormalised, meanGrad), tf.mul(normalised, meanProjection)), rstd);
  return [dx as tf.Tensor2D, tf.sum(tf.mul(dy, normalised), 0), tf.sum(dy, 0)];
}

/** Exact GELU x·Φ(x); returns Φ(x) too, which the backward pass reuses. */
export function geluForward(x: tf.Tensor2D): { out: tf.Tensor2D; cdf: tf.Tensor2D } {
  // Φ(x) = ½(1 + erf(x/√2)); erf is one kernel on wasm and faster than the tanh form.
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5) as tf.Tensor2D;
  return { out: tf.mul(x, cdf) as tf.Tensor2D, cdf };
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d GELU: dy · (Φ(x) + x·φ(x)), φ the standard normal density. */
export function geluBackward(dy: tf.Tensor2D, x: tf.Tensor2D, cdf: tf.Tensor2D): tf.Tensor2D {
  const density = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
  return tf.mul(dy, tf.add(cdf, tf.mul(x, density))) as tf.Tensor2D;
}

/** Row softmax backward from its output p: p ⊙ (dp − Σ dp ⊙ p). */
export function softmaxBackward(dp: tf.Tensor, p: tf.Tensor): tf.Tensor {
  return tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
}
