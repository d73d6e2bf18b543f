import * as tf from "@tensorflow/tfjs";

/**
 * Soft-target cross-entropy with label smoothing, averaged over the batch:
 * −(1/B) Σ t̃ · log softmax(logits), t̃ = (1−s)·t + s/K. One autograd node whose gradient,
 * (softmax · Σt̃ − t̃)/B, takes four kernels instead of stock autograd's ~40.
 */
export function smoothedCrossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor2D,
  smoothing: number,
): tf.Scalar {
  const [batch, classes] = targets.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor2D;
    const smoothed = smoothing > 0 ? tf.add(tf.mul(targets, 1 - smoothing), smoothing / classes) : targets;
    const shifted = tf.sub(input, tf.max(input, 1, true));
    const logProbs = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true)));
    save([logProbs, smoothed]);
    return {
      value: tf.mul(tf.sum(tf.mul(smoothed, logProbs)), -1 / batch) as tf.Scalar,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [logp, t] = saved as [tf.Tensor2D, tf.Tensor2D];
          const rowMass = tf.sum(t, 1, true); // 1 for one-hot, mixed and smoothed targets alike
          const grad = tf.sub(tf.mul(tf.exp(logp), rowMass), t);
          return tf.mul(grad, tf.div(dy as tf.Tensor, batch));
        }),
    };
  }) as (logits: tf.Tensor) => tf.Scalar;
  return op(logits);
}
