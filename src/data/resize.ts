/**
 * Down-sampling of an (augmented, full-size) batch tensor for token growth: smaller inputs
 * are made by resizing, never by larger patches (spec §2). Same convention as the JS
 * resize in bilinear.ts: TF bilinear with half-pixel centres.
 */

import * as tf from "@tensorflow/tfjs";

/**
 * Returns a new tensor of shape [batch, side, side, channels] that the caller owns and
 * must dispose. When the side already matches it is a `tf.clone` (shares the data, no
 * copy), so disposing both `x` and the result is always safe.
 */
export function downsample(x: tf.Tensor4D, side: number): tf.Tensor4D {
  const [, height, width] = x.shape;
  if (height === side && width === side) return tf.clone(x);
  return tf.image.resizeBilinear(x, [side, side], false, true);
}
