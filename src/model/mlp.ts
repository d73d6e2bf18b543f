import * as tf from "@tensorflow/tfjs";
import {
  denseBackward,
  denseForward,
  geluBackward,
  geluForward,
  layerNormBackward,
  layerNormForward,
} from "./backward.ts";

/**
 * The pre-norm MLP half of a residual block, y = x + keep · fc2(GELU(fc1(LN(x)))), with the
 * cache its hand-written backward reads. `keep` scales the branch: a drop-path mask, a ReZero
 * scalar or their product. VOLO's outlookers and class-attention blocks share it;
 * the ViT block keeps its own fused copy (its ReZero scalar spans both halves).
 */

export interface MlpWeights {
  readonly fc1W: tf.Tensor;
  readonly fc1B: tf.Tensor;
  readonly fc2W: tf.Tensor;
  readonly fc2B: tf.Tensor;
}

/** What the backward pass reads, in the order the blocks save it. */
export const MLP_CACHE_KEYS = ["normalised", "rstd", "ln", "preGelu", "cdf", "hidden"] as const;
export type MlpCache = Record<(typeof MLP_CACHE_KEYS)[number], tf.Tensor>;

export function mlpForward(
  x: tf.Tensor2D,
  w: MlpWeights,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  keep: tf.Tensor | null,
): { y: tf.Tensor2D; out: tf.Tensor2D; cache: MlpCache } {
  const ln = layerNormForward(x, gamma, beta);
  const preGelu = denseForward(ln.out, w.fc1W, w.fc1B);
  const gelu = geluForward(preGelu);
  const out = denseForward(gelu.out, w.fc2W, w.fc2B);
  const y = tf.add(x, keep ? tf.mul(out, keep) : out) as tf.Tensor2D;
  return {
    y,
    out,
    cache: {
      normalised: ln.cache.normalised,
      rstd: ln.cache.rstd,
      ln: ln.out,
      preGelu,
      cdf: gelu.cdf,
      hidden: gelu.out,
    },
  };
}

export interface MlpGradients {
  readonly dx: tf.Tensor2D;
  readonly dGamma: tf.Tensor;
  readonly dBeta: tf.Tensor;
  readonly dFc1W: tf.Tensor;
  readonly dFc1B: tf.Tensor;
  readonly dFc2W: tf.Tensor;
  readonly dFc2B: tf.Tensor;
}

export function mlpBackward(
  dy: tf.Tensor2D,
  c: MlpCache,
  w: MlpWeights,
  gamma: tf.Tensor,
  keep: tf.Tensor | null,
): MlpGradients {
  const as2d = (t: tf.Tensor) => t as tf.Tensor2D;
  const dOut = as2d(keep ? tf.mul(dy, keep) : dy);
  const [dHidden, dFc2W, dFc2B] = denseBackward(dOut, as2d(c.hidden), w.fc2W);
  const dPreGelu = geluBackward(as2d(dHidden), as2d(c.preGelu), as2d(c.cdf));
  const [dLn, dFc1W, dFc1B] = denseBackward(dPreGelu, as2d(c.ln), w.fc1W);
  const [dNorm, dGamma, dBeta] = layerNormBackward(
    as2d(dLn),
    { normalised: as2d(c.normalised), rstd: as2d(c.rstd) },
    gamma,
  );
  return { dx: tf.add(dy, dNorm) as tf.Tensor2D, dGamma, dBeta, dFc1W, dFc1B, dFc2W, dFc2B };
}
