import * as tf from "@tensorflow/tfjs";
import { denseBackward, denseForward, layerNormBackward, layerNormForward } from "./backward.ts";
import type { ViTConfig } from "./config.ts";
import { requireWeight, type WeightMap } from "./params.ts";

/**
 * The class token's row of the stream, final layer norm and linear head: [B·N, D] → logits
 * [B, classes]. One autograd node with a hand-written backward; the stream's gradient is zero
 * outside the class-token rows.
 */
export function classifierHead(
  config: ViTConfig,
  weights: WeightMap,
  stream: tf.Tensor2D,
  shape: { batch: number; tokens: number },
): tf.Tensor2D {
  const w = (name: string) => requireWeight(weights, name);
  const { batch, tokens } = shape;
  const d = config.width;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, gamma, beta, headW, headB] = args as tf.Tensor[];
    const cls = tf.reshape(
      tf.slice(tf.reshape(input as tf.Tensor, [batch, tokens, d]), [0, 0, 0], [batch, 1, d]),
      [batch, d],
    ) as tf.Tensor2D;
    const norm = layerNormForward(cls, gamma as tf.Tensor, beta as tf.Tensor);
    save([norm.cache.normalised, norm.cache.rstd, norm.out]);
    return {
      value: denseForward(norm.out, headW as tf.Tensor, headB as tf.Tensor),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [normalised, rstd, normOut] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
          const [dNormOut, dHeadW, dHeadB] = denseBackward(dy as tf.Tensor2D, normOut, headW as tf.Tensor);
          const [dCls, dGamma, dBeta] = layerNormBackward(
            dNormOut as tf.Tensor2D,
            { normalised, rstd },
            gamma as tf.Tensor,
          );
          const dStream = tf.concat([tf.reshape(dCls, [batch, 1, d]), tf.zeros([batch, tokens - 1, d])], 1);
          return [tf.reshape(dStream, [batch * tokens, d]), dGamma, dBeta, dHeadW, dHeadB];
        }),
    };
  }) as (...tensors: tf.Tensor[]) => tf.Tensor2D;
  return op(stream, w("norm.gamma"), w("norm.beta"), w("head.w"), w("head.b"));
}
