import * as tf from "@tensorflow/tfjs";
import {
  denseBackward,
  denseForward,
  layerNormBackward,
  layerNormForward,
  matMulT,
  softmaxBackward,
} from "./backward.ts";
import type { ViTConfig } from "./config.ts";
import { MLP_CACHE_KEYS, type MlpCache, type MlpWeights, mlpBackward, mlpForward } from "./mlp.ts";
import { requireWeight, type WeightMap } from "./params.ts";
import { classBlockPrefix } from "./volo-params.ts";

/**
 * VOLO's class-attention block (CaiT's): only the class token (row 0 of each image) is updated,
 * cls + attn(q = LN(x)_cls, k, v = LN(x)) then cls + MLP(LN(cls)); the other tokens pass
 * through. One autograd node with a hand-written backward.
 */

const WEIGHTS = [
  "norm1.gamma",
  "norm1.beta",
  "attn.q.w",
  "attn.kv.w",
  "attn.proj.w",
  "attn.proj.b",
  "norm2.gamma",
  "norm2.beta",
  "mlp.fc1.w",
  "mlp.fc1.b",
  "mlp.fc2.w",
  "mlp.fc2.b",
] as const;

interface Geometry {
  readonly batch: number;
  /** Tokens per image, class token included. */
  readonly tokens: number;
  readonly width: number;
  readonly heads: number;
  readonly headWidth: number;
}

interface Params extends MlpWeights {
  readonly norm1Gamma: tf.Tensor;
  readonly norm1Beta: tf.Tensor;
  readonly qW: tf.Tensor;
  readonly kvW: tf.Tensor;
  readonly projW: tf.Tensor;
  readonly projB: tf.Tensor;
  readonly norm2Gamma: tf.Tensor;
  readonly norm2Beta: tf.Tensor;
}

function paramsOf(list: readonly tf.Tensor[]): Params {
  const at = (i: number) => list[i] as tf.Tensor;
  return {
    norm1Gamma: at(0),
    norm1Beta: at(1),
    qW: at(2),
    kvW: at(3),
    projW: at(4),
    projB: at(5),
    norm2Gamma: at(6),
    norm2Beta: at(7),
    fc1W: at(8),
    fc1B: at(9),
    fc2W: at(10),
    fc2B: at(11),
  };
}

/** Row 0 of every image: [B·N, D] → [B, D]. */
function classRows(t: tf.Tensor, g: Geometry): tf.Tensor2D {
  return tf.reshape(tf.slice(tf.reshape(t, [g.batch, g.tokens, g.width]), [0, 0, 0], [g.batch, 1, g.width]), [
    g.batch,
    g.width,
  ]) as tf.Tensor2D;
}

/** The other rows: [B·N, D] → [B, N − 1, D]. */
function patchRows(t: tf.Tensor, g: Geometry): tf.Tensor {
  return tf.slice(tf.reshape(t, [g.batch, g.tokens, g.width]), [0, 1, 0], [g.batch, g.tokens - 1, g.width]);
}

/** [B, D] class rows in front of [B, N − 1, D] patch rows → [B·N, D]. */
function withClassRows(cls: tf.Tensor, patches: tf.Tensor, g: Geometry): tf.Tensor2D {
  return tf.reshape(tf.concat([tf.reshape(cls, [g.batch, 1, g.width]), patches], 1), [
    g.batch * g.tokens,
    g.width,
  ]) as tf.Tensor2D;
}

/** [B·N, 2D] → k, v as [H·B, N, dh] (head-major, as the ViT block). */
function splitKv(kv: tf.Tensor, g: Geometry): [tf.Tensor3D, tf.Tensor3D] {
  const all = tf.transpose(tf.reshape(kv, [g.batch, g.tokens, 2 * g.heads, g.headWidth]), [2, 0, 1, 3]);
  const part = (i: number) =>
    tf.reshape(tf.slice(all, [i * g.heads, 0, 0, 0], [g.heads, g.batch, g.tokens, g.headWidth]), [
      g.heads * g.batch,
      g.tokens,
      g.headWidth,
    ]) as tf.Tensor3D;
  return [part(0), part(1)];
}

function joinKv(dk: tf.Tensor, dv: tf.Tensor, g: Geometry): tf.Tensor2D {
  const stacked = tf.concat(
    [dk, dv].map((t) => tf.reshape(t, [g.heads, g.batch, g.tokens, g.headWidth])),
    0,
  ); // [2H, B, N, dh]
  return tf.reshape(tf.transpose(stacked, [1, 2, 0, 3]), [g.batch * g.tokens, 2 * g.width]) as tf.Tensor2D;
}

/** [B, D] ↔ [H·B, 1, dh]. */
const toHeads = (t: tf.Tensor, g: Geometry) =>
  tf.reshape(tf.transpose(tf.reshape(t, [g.batch, g.heads, g.headWidth]), [1, 0, 2]), [
    g.heads * g.batch,
    1,
    g.headWidth,
  ]) as tf.Tensor3D;
const fromHeads = (t: tf.Tensor, g: Geometry) =>
  tf.reshape(tf.transpose(tf.reshape(t, [g.heads, g.batch, g.headWidth]), [1, 0, 2]), [
    g.batch,
    g.width,
  ]) as tf.Tensor2D;

const CACHE_KEYS = ["norm1", "rstd1", "ln1", "clsLn", "q", "k", "v", "probs", "mixed"] as const;
type Cache = Record<(typeof CACHE_KEYS)[number], tf.Tensor>;

function classBlockForward(
  g: Geometry,
  x: tf.Tensor2D,
  w: Params,
): { y: tf.Tensor2D; cache: Cache; mlp: MlpCache } {
  const ln1 = layerNormForward(x, w.norm1Gamma, w.norm1Beta);
  const clsLn = classRows(ln1.out, g);
  const q = toHeads(tf.mul(tf.matMul(clsLn, w.qW), 1 / Math.sqrt(g.headWidth)), g); // [H·B, 1, dh], scaled
  const [k, v] = splitKv(tf.matMul(ln1.out, w.kvW), g);
  const probs = tf.softmax(tf.matMul(q, k, false, true)); // [H·B, 1, N]
  const mixed = fromHeads(tf.matMul(probs, v), g); // [B, D]
  const cls1 = tf.add(classRows(x, g), denseForward(mixed, w.projW, w.projB)) as tf.Tensor2D;
  const mlp = mlpForward(cls1, w, w.norm2Gamma, w.norm2Beta, null);
  const y = withClassRows(mlp.y, patchRows(x, g), g);
  const cache: Cache = {
    norm1: ln1.cache.normalised,
    rstd1: ln1.cache.rstd,
    ln1: ln1.out,
    clsLn,
    q,
    k,
    v,
    probs,
    mixed,
  };
  return { y, cache, mlp: mlp.cache };
}

function classBlockBackward(g: Geometry, dy: tf.Tensor2D, c: Cache, mlp: MlpCache, w: Params): tf.Tensor[] {
  const as2d = (t: tf.Tensor) => t as tf.Tensor2D;
  const m = mlpBackward(classRows(dy, g), mlp, w, w.norm2Gamma, null);
  const dCls1 = m.dx;
  const [dMixed, dProjW, dProjB] = denseBackward(dCls1, as2d(c.mixed), w.projW);
  const dMixedHeads = toHeads(dMixed, g);
  const dProbs = tf.matMul(dMixedHeads, c.v as tf.Tensor3D, false, true);
  const dV = tf.matMul(c.probs as tf.Tensor3D, dMixedHeads, true, false);
  const dScores = softmaxBackward(dProbs, c.probs) as tf.Tensor3D;
  const dQ = tf.mul(fromHeads(tf.matMul(dScores, c.k as tf.Tensor3D), g), 1 / Math.sqrt(g.headWidth));
  const dK = tf.matMul(dScores, c.q as tf.Tensor3D, true, false);
  const dKv = joinKv(dK, dV, g);
  const dClsLn = matMulT(dQ, w.qW, false, true);
  const zeros = tf.zeros([g.batch, g.tokens - 1, g.width]);
  const dLn1 = tf.add(matMulT(dKv, w.kvW, false, true), withClassRows(dClsLn, zeros, g)) as tf.Tensor2D;
  const [dXNorm, dNorm1Gamma, dNorm1Beta] = layerNormBackward(
    dLn1,
    { normalised: as2d(c.norm1), rstd: as2d(c.rstd1) },
    w.norm1Gamma,
  );
  return [
    tf.add(dXNorm, withClassRows(dCls1, patchRows(dy, g), g)),
    dNorm1Gamma,
    dNorm1Beta,
    matMulT(c.clsLn, dQ, true, false),
    matMulT(c.ln1, dKv, true, false),
    dProjW,
    dProjB,
    m.dGamma,
    m.dBeta,
    m.dFc1W,
    m.dFc1B,
    m.dFc2W,
    m.dFc2B,
  ];
}

/** Class-attention block `index` on the stream [B·N, D] whose row 0 per image is the class token. */
export function classBlock(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor2D,
  shape: { batch: number; tokens: number; index: number },
): tf.Tensor2D {
  const prefix = classBlockPrefix(shape.index);
  const inputs = [x, ...WEIGHTS.map((name) => requireWeight(weights, prefix + name))];
  const g: Geometry = {
    batch: shape.batch,
    tokens: shape.tokens,
    width: config.width,
    heads: config.heads,
    headWidth: config.width / config.heads,
  };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, ...rest] = args as tf.Tensor[];
    const params = paramsOf(rest);
    const { y, cache, mlp } = classBlockForward(g, input as tf.Tensor2D, params);
    save([...CACHE_KEYS.map((key) => cache[key]), ...MLP_CACHE_KEYS.map((key) => mlp[key])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const restored = Object.fromEntries(CACHE_KEYS.map((key, i) => [key, saved[i]])) as Cache;
          const restoredMlp = Object.fromEntries(
            MLP_CACHE_KEYS.map((key, i) => [key, saved[CACHE_KEYS.length + i]]),
          ) as MlpCache;
          return classBlockBackward(g, dy as tf.Tensor2D, restored, restoredMlp, params);
        }),
    };
  }) as (...tensors: tf.Tensor[]) => tf.Tensor2D;
  return op(...inputs);
}
