import * as tf from "@tensorflow/tfjs";
import { matMulT } from "./backward.ts";
import type { ViTConfig } from "./config.ts";
import { requireWeight, type WeightMap } from "./params.ts";
import { resizePosEmbed } from "./pos-embed.ts";

/**
 * Patches → tokens, class token prepended, position table added: [B, r, r, C] → [B·N, D].
 * One autograd node with a hand-written backward (stock autograd spends ~60 kernels here).
 * The image gets no gradient; the position table, resized for a smaller grid, does.
 */
export function embedPatches(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor4D,
  grid: number,
): tf.Tensor2D {
  const w = (name: string) => requireWeight(weights, name);
  const batch = x.shape[0];
  const p = config.patchSize;
  const c = config.channels;
  const d = config.width;
  const tokens = grid * grid + 1;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [patchW, patchB, cls, pos] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    // [B, r, r, C] → [B·g, p, g, p·C] → [B·g, g, p, p·C] → [B·g·g, p·p·C]; rank-4 transposes only.
    const rows = tf.reshape(x, [batch * grid, p, grid, p * c]);
    const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [batch * grid * grid, p * p * c]);
    const patchTokens = tf.reshape(tf.add(tf.matMul(patches, patchW), patchB), [batch, grid * grid, d]);
    const clsRows = tf.tile(tf.reshape(cls, [1, 1, d]), [batch, 1, 1]); // [B, 1, D]
    const sequence = tf.add(tf.concat([clsRows, patchTokens], 1), pos); // [B, N, D]
    save([patches]);
    return {
      value: tf.reshape(sequence, [batch * tokens, d]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const d3 = tf.reshape(dy as tf.Tensor, [batch, tokens, d]);
          const dTokens = tf.reshape(tf.slice(d3, [0, 1, 0], [batch, tokens - 1, d]), [
            batch * (tokens - 1),
            d,
          ]);
          return [
            matMulT(saved[0] as tf.Tensor, dTokens, true, false),
            tf.sum(dTokens, 0),
            tf.sum(tf.slice(d3, [0, 0, 0], [batch, 1, d]), 0), // [1, D]
            tf.sum(d3, 0), // [N, D]
          ];
        }),
    };
  }) as (...tensors: tf.Tensor[]) => tf.Tensor2D;
  const pos = resizePosEmbed(w("embed.pos") as tf.Tensor2D, grid); // [N, D]
  return op(w("embed.patch.w"), w("embed.patch.b"), w("embed.cls"), pos);
}
