import * as tf from "@tensorflow/tfjs";
import type { ViTConfig } from "../../src/model/config.ts";
import { blockPrefix, requireWeight, type WeightMap } from "../../src/model/params.ts";
import { classBlockPrefix, requireVolo } from "../../src/model/volo-params.ts";

/**
 * VOLO's outlooker and class-attention block in plain tfjs ops with stock autograd, written
 * independently of the engine's: unfold, fold and pooling as constant 0/1 (¼) matrices over the
 * grid, heads in batch-major order. The fused blocks are held to these.
 */

const norm = (t: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
  const centred = tf.sub(t, tf.mean(t, -1, true));
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-6))), gamma), beta);
};
const linear = (t: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null) => {
  const product = tf.matMul(t as tf.Tensor2D, weight as tf.Tensor2D);
  return bias ? tf.add(product, bias) : product;
};
const gelu = (a: tf.Tensor) => tf.mul(tf.mul(a, 0.5), tf.add(tf.erf(tf.mul(a, Math.SQRT1_2)), 1));

/** [9·h·w, H·W]: row (3i + j, y·w + x) picks grid cell (2y + i − 1, 2x + j − 1) when inside. */
export function unfoldMatrix(side: number): tf.Tensor2D {
  const half = side / 2;
  const values = new Float32Array(9 * half * half * side * side);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      for (let y = 0; y < half; y++)
        for (let x = 0; x < half; x++) {
          const row = 2 * y + i - 1;
          const col = 2 * x + j - 1;
          if (row < 0 || col < 0 || row >= side || col >= side) continue;
          const r = (3 * i + j) * half * half + y * half + x;
          values[r * side * side + row * side + col] = 1;
        }
  return tf.tensor2d(values, [9 * half * half, side * side]);
}

function poolMatrix(side: number): tf.Tensor2D {
  const half = side / 2;
  const values = new Float32Array(half * half * side * side);
  for (let row = 0; row < side; row++)
    for (let col = 0; col < side; col++) {
      const cell = Math.floor(row / 2) * half + Math.floor(col / 2);
      values[cell * side * side + row * side + col] = 0.25;
    }
  return tf.tensor2d(values, [half * half, side * side]);
}

export function referenceOutlooker(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor2D,
  shape: { batch: number; grid: number; index: number; keep: tf.Tensor | null },
): tf.Tensor2D {
  const volo = requireVolo(config);
  const w = (name: string) => requireWeight(weights, blockPrefix(shape.index) + name);
  const { batch, grid } = shape;
  const c = volo.outlookerWidth;
  const heads = volo.outlookerHeads;
  const dh = c / heads;
  const cells = grid * grid;
  const pooledCells = cells / 4;
  const rezero = weights.get(`${blockPrefix(shape.index)}rezero`);
  const branch = (t: tf.Tensor) => {
    const scaled = rezero ? tf.mul(t, rezero) : t;
    return shape.keep ? tf.mul(scaled, shape.keep) : scaled;
  };
  // Grid-major views [H·W, B·C] so the constant matrices act on the grid axis.
  const gridMajor = (t: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(t, [batch, cells, c]), [1, 0, 2]), [cells, batch * c]);
  const h = norm(x, w("norm1.gamma"), w("norm1.beta"));
  const v = linear(h, w("outlook.v.w"), null);
  const unfoldM = unfoldMatrix(grid);
  const windows = tf.reshape(tf.matMul(unfoldM, gridMajor(v)), [9, pooledCells, batch, heads, dh]);
  const values = tf.reshape(tf.transpose(windows, [2, 1, 3, 0, 4]), [batch * pooledCells * heads, 9, dh]);
  const pooled = tf.reshape(
    tf.transpose(tf.reshape(tf.matMul(poolMatrix(grid), gridMajor(h)), [pooledCells, batch, c]), [1, 0, 2]),
    [batch * pooledCells, c],
  );
  const logits = tf.mul(linear(pooled, w("outlook.attn.w"), w("outlook.attn.b")), 1 / Math.sqrt(dh));
  const attn = tf.softmax(tf.reshape(logits, [batch * pooledCells * heads, 9, 9]));
  const mixed = tf.reshape(tf.matMul(attn, values), [batch, pooledCells, heads, 9, dh]);
  const mixedWindows = tf.reshape(tf.transpose(mixed, [3, 1, 0, 2, 4]), [9 * pooledCells, batch * c]);
  const folded = tf.matMul(unfoldM, mixedWindows, true, false); // [H·W, B·C]
  const foldedRows = tf.reshape(tf.transpose(tf.reshape(folded, [cells, batch, c]), [1, 0, 2]), [
    batch * cells,
    c,
  ]);
  const y1 = tf.add(x, branch(linear(foldedRows, w("outlook.proj.w"), w("outlook.proj.b"))));
  const a = linear(norm(y1, w("norm2.gamma"), w("norm2.beta")), w("mlp.fc1.w"), w("mlp.fc1.b"));
  return tf.add(y1, branch(linear(gelu(a), w("mlp.fc2.w"), w("mlp.fc2.b")))) as tf.Tensor2D;
}

export function referenceClassBlock(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor2D,
  shape: { batch: number; tokens: number; index: number },
): tf.Tensor2D {
  const w = (name: string) => requireWeight(weights, classBlockPrefix(shape.index) + name);
  const { batch, tokens } = shape;
  const d = config.width;
  const heads = config.heads;
  const dh = d / heads;
  const x3 = tf.reshape(x, [batch, tokens, d]);
  const cls = tf.reshape(tf.slice(x3, [0, 0, 0], [batch, 1, d]), [batch, d]);
  const h = norm(x, w("norm1.gamma"), w("norm1.beta"));
  const hCls = tf.reshape(tf.slice(tf.reshape(h, [batch, tokens, d]), [0, 0, 0], [batch, 1, d]), [batch, d]);
  const q = tf.reshape(linear(hCls, w("attn.q.w"), null), [batch, 1, heads, dh]);
  const [k, v] = tf
    .split(tf.reshape(linear(h, w("attn.kv.w"), null), [batch, tokens, 2 * d]), 2, 2)
    .map((t) => tf.transpose(tf.reshape(t, [batch, tokens, heads, dh]), [0, 2, 1, 3])) as [
    tf.Tensor4D,
    tf.Tensor4D,
  ];
  const qHeads = tf.transpose(q, [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, 1, dh]
  const attn = tf.softmax(tf.mul(tf.matMul(qHeads, k, false, true), 1 / Math.sqrt(dh)));
  const mixed = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [batch, d]);
  const cls1 = tf.add(cls, linear(mixed, w("attn.proj.w"), w("attn.proj.b")));
  const a = linear(norm(cls1, w("norm2.gamma"), w("norm2.beta")), w("mlp.fc1.w"), w("mlp.fc1.b"));
  const cls2 = tf.add(cls1, linear(gelu(a), w("mlp.fc2.w"), w("mlp.fc2.b")));
  const rest = tf.slice(x3, [0, 1, 0], [batch, tokens - 1, d]);
  return tf.reshape(tf.concat([tf.reshape(cls2, [batch, 1, d]), rest], 1), [
    batch * tokens,
    d,
  ]) as tf.Tensor2D;
}
