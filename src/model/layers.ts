import * as tf from "@tensorflow/tfjs";

/**
 * Building blocks written so that the wasm backend stays on its fast paths
 * (see shared/docs/tfjs-notes.md): every matmul is plain 2-D without transpose flags.
 */

/**
 * x·W + b for x [M, K], W [K, N]. The gradient is written by hand with explicit transposes:
 * tfjs' stock matMul gradient uses transposed matmuls, which the wasm backend runs ~10× slower.
 */
// customGrad passes the save function as the last argument, after the tensors.
export const dense = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [tf.matMul(dy2, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy2), tf.sum(dy2, 0)];
    },
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

const LAYER_NORM_EPSILON = 1e-6;

/** Layer normalisation over the last axis. */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor): T {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  const normalised = tf.mul(centred, tf.rsqrt(tf.add(variance, LAYER_NORM_EPSILON)));
  return tf.add(tf.mul(normalised, gamma), beta) as T;
}

/** Exact GELU; `erf` is one kernel on wasm and faster than the tanh approximation. */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T;
}
