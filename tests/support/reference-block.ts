import * as tf from "@tensorflow/tfjs";
import type { ViTConfig } from "../../src/model/config.ts";
import { blockPrefix, requireWeight, type WeightMap } from "../../src/model/params.ts";

/**
 * The transformer block written in plain tfjs ops with stock autograd (the formulation the
 * engine used before its hand-written backward pass): the reference the fused block is held to.
 */
export function referenceBlock(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor2D,
  shape: { batch: number; tokens: number; index: number; keep: tf.Tensor | null },
): tf.Tensor2D {
  const w = (name: string) => requireWeight(weights, blockPrefix(shape.index) + name);
  const rezero = weights.get(`${blockPrefix(shape.index)}rezero`);
  const branch = (out: tf.Tensor): tf.Tensor => {
    const scaled = rezero ? tf.mul(out, rezero) : out;
    return shape.keep ? tf.mul(scaled, shape.keep) : scaled;
  };
  const norm = (t: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const centred = tf.sub(t, tf.mean(t, -1, true));
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-6))), gamma), beta);
  };
  const linear = (t: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) =>
    tf.add(tf.matMul(t as tf.Tensor2D, weight as tf.Tensor2D), bias);
  const { batch, tokens } = shape;
  const d = config.width;
  const heads = config.heads;
  const dh = d / heads;
  const toHeads = (t: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(t, [batch, tokens, heads, dh]), [0, 2, 1, 3]), [
      batch * heads,
      tokens,
      dh,
    ]);
  const h = norm(x, w("norm1.gamma"), w("norm1.beta"));
  const qkv = linear(h, w("attn.qkv.w"), w("attn.qkv.b"));
  const [q, k, v] = tf.split(qkv, 3, 1).map(toHeads) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(dh)), k, false, true);
  const mixed = tf.matMul(tf.softmax(scores), v);
  const merged = tf.reshape(tf.transpose(tf.reshape(mixed, [batch, heads, tokens, dh]), [0, 2, 1, 3]), [
    batch * tokens,
    d,
  ]);
  const y1 = tf.add(x, branch(linear(merged, w("attn.proj.w"), w("attn.proj.b"))));
  const a = linear(norm(y1, w("norm2.gamma"), w("norm2.beta")), w("mlp.fc1.w"), w("mlp.fc1.b"));
  const gelu = tf.mul(tf.mul(a, 0.5), tf.add(tf.erf(tf.mul(a, Math.SQRT1_2)), 1));
  return tf.add(y1, branch(linear(gelu, w("mlp.fc2.w"), w("mlp.fc2.b")))) as tf.Tensor2D;
}
