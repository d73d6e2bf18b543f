import * as tf from "@tensorflow/tfjs";
import { OUTLOOK_KERNEL } from "../core/volo-config.ts";
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
import { blockPrefix, requireWeight, type WeightMap } from "./params.ts";
import { fold3x3s2, unfold3x3s2 } from "./unfold.ts";
import { requireVolo } from "./volo-params.ts";

/**
 * VOLO's outlooker, x + OA(LN(x)) then x + MLP(LN(x)), on the outlooker grid [B·H·W, C]: one
 * autograd node with a hand-written backward, as the transformer block.
 *
 * Outlook attention (K = 3, stride 2): values v = LN(x)·Wv are unfolded into the K×K
 * neighbourhood of every location of the 2×-down-sampled grid; that grid's tokens (2×2 average
 * pooled) predict, per head, a K²×K² attention from their own features alone (no query–key
 * product), which mixes the neighbourhood's values; the mixed windows are folded back onto the
 * full grid (overlaps summed) and projected.
 */

const K2 = OUTLOOK_KERNEL * OUTLOOK_KERNEL;

const WEIGHTS = [
  "norm1.gamma",
  "norm1.beta",
  "outlook.v.w",
  "outlook.attn.w",
  "outlook.attn.b",
  "outlook.proj.w",
  "outlook.proj.b",
  "norm2.gamma",
  "norm2.beta",
  "mlp.fc1.w",
  "mlp.fc1.b",
  "mlp.fc2.w",
  "mlp.fc2.b",
] as const;

export interface OutlookerShape {
  readonly batch: number;
  /** Outlooker grid side H = W (even). */
  readonly grid: number;
  readonly index: number;
  /** [B·H·W, 1] per-sample keep mask already divided by the keep probability, or null. */
  readonly keep: tf.Tensor | null;
}

interface Geometry {
  readonly batch: number;
  readonly grid: number;
  /** Locations of the pooled grid, B·h·w. */
  readonly pooled: number;
  readonly width: number;
  readonly heads: number;
  readonly headWidth: number;
}

/** [9, B·h·w·C] (unfolded) → [B·h·w·heads, 9, dh]: one window per pooled location and head. */
function windowsToHeads(t: tf.Tensor, g: Geometry): tf.Tensor3D {
  const view = tf.reshape(t, [K2, g.pooled, g.heads, g.headWidth]);
  return tf.reshape(tf.transpose(view, [1, 2, 0, 3]), [g.pooled * g.heads, K2, g.headWidth]) as tf.Tensor3D;
}

/** The inverse of windowsToHeads. */
function headsToWindows(t: tf.Tensor, g: Geometry): tf.Tensor2D {
  const view = tf.reshape(t, [g.pooled, g.heads, K2, g.headWidth]);
  return tf.reshape(tf.transpose(view, [2, 0, 1, 3]), [K2, g.pooled * g.width]) as tf.Tensor2D;
}

/** 2×2 average pooling of [B·H·W, C] → [B·h·w, C], with rank ≤ 4 reductions. */
function avgPool2(x: tf.Tensor, g: Geometry): tf.Tensor2D {
  const h = g.grid / 2;
  const rows = tf.sum(tf.reshape(x, [g.batch * h, 2, h, 2 * g.width]), 1); // [B·h, w, 2C]
  return tf.mul(tf.sum(tf.reshape(rows, [g.pooled, 2, g.width]), 1), 0.25) as tf.Tensor2D;
}

/** The adjoint of avgPool2: each pooled gradient spread over its 2×2 cell. */
function avgPool2Backward(dy: tf.Tensor, g: Geometry): tf.Tensor2D {
  const h = g.grid / 2;
  const quarter = tf.reshape(tf.mul(dy, 0.25), [g.pooled, 1, g.width]);
  const cols = tf.reshape(tf.concat([quarter, quarter], 1), [g.batch * h, 1, h, 2 * g.width]);
  return tf.reshape(tf.concat([cols, cols], 1), [g.batch * g.grid * g.grid, g.width]) as tf.Tensor2D;
}

const foldGrid = (g: Geometry) => ({ batch: g.batch, side: g.grid, channels: g.width });

interface Params extends MlpWeights {
  readonly norm1Gamma: tf.Tensor;
  readonly norm1Beta: tf.Tensor;
  readonly vW: tf.Tensor;
  readonly attnW: tf.Tensor;
  readonly attnB: tf.Tensor;
  readonly projW: tf.Tensor;
  readonly projB: tf.Tensor;
  readonly norm2Gamma: tf.Tensor;
  readonly norm2Beta: tf.Tensor;
  /** Identity growth's zero-initialised scalar on both residual branches, when held. */
  readonly rezero: tf.Tensor | null;
}

function paramsOf(list: readonly tf.Tensor[]): Params {
  const at = (i: number) => list[i] as tf.Tensor;
  return {
    norm1Gamma: at(0),
    norm1Beta: at(1),
    vW: at(2),
    attnW: at(3),
    attnB: at(4),
    projW: at(5),
    projB: at(6),
    norm2Gamma: at(7),
    norm2Beta: at(8),
    fc1W: at(9),
    fc1B: at(10),
    fc2W: at(11),
    fc2B: at(12),
    rezero: list[13] ?? null,
  };
}

const CACHE_KEYS = ["norm1", "rstd1", "ln1", "pooled", "values", "probs", "folded"] as const;
/** Read only for the ReZero scalar's gradient. */
const REZERO_CACHE_KEYS = ["attnOut", "mlpOut"] as const;
type Cache = Record<(typeof CACHE_KEYS)[number], tf.Tensor> &
  Partial<Record<(typeof REZERO_CACHE_KEYS)[number], tf.Tensor>>;

/** What scales a residual branch: the ReZero scalar, the drop-path mask, both or nothing. */
function branchScale(rezero: tf.Tensor | null, keep: tf.Tensor | null): tf.Tensor | null {
  if (rezero && keep) return tf.mul(keep, rezero);
  return rezero ?? keep;
}

function outlookerForward(
  g: Geometry,
  x: tf.Tensor2D,
  w: Params,
  keep: tf.Tensor | null,
): { y: tf.Tensor2D; cache: Cache; mlp: MlpCache } {
  const ln1 = layerNormForward(x, w.norm1Gamma, w.norm1Beta);
  const v = tf.matMul(ln1.out, w.vW); // [B·H·W, C]
  const values = windowsToHeads(unfold3x3s2(v, foldGrid(g)), g); // [B·h·w·heads, 9, dh]
  const pooled = avgPool2(ln1.out, g); // [B·h·w, C]
  const logits = tf.reshape(tf.mul(denseForward(pooled, w.attnW, w.attnB), 1 / Math.sqrt(g.headWidth)), [
    g.pooled * g.heads,
    K2,
    K2,
  ]);
  const probs = tf.softmax(logits); // [B·h·w·heads, 9 (out), 9 (in)]
  const mixed = headsToWindows(tf.matMul(probs, values), g);
  const folded = tf.reshape(fold3x3s2(mixed, foldGrid(g)), [
    g.batch * g.grid * g.grid,
    g.width,
  ]) as tf.Tensor2D;
  const attnOut = denseForward(folded, w.projW, w.projB);
  const scale = branchScale(w.rezero, keep);
  const y1 = tf.add(x, scale ? tf.mul(attnOut, scale) : attnOut) as tf.Tensor2D;
  const mlp = mlpForward(y1, w, w.norm2Gamma, w.norm2Beta, scale);
  const cache: Cache = {
    norm1: ln1.cache.normalised,
    rstd1: ln1.cache.rstd,
    ln1: ln1.out,
    pooled,
    values,
    probs,
    folded,
    attnOut,
    mlpOut: mlp.out,
  };
  return { y: mlp.y, cache, mlp: mlp.cache };
}

/** Gradients for [x, …WEIGHTS]. */
function outlookerBackward(
  g: Geometry,
  dy: tf.Tensor2D,
  c: Cache,
  mlp: MlpCache,
  w: Params,
  keep: tf.Tensor | null,
): tf.Tensor[] {
  const as2d = (t: tf.Tensor) => t as tf.Tensor2D;
  const scale = branchScale(w.rezero, keep);
  const m = mlpBackward(dy, mlp, w, w.norm2Gamma, scale);
  const dY1 = m.dx;
  const dAttnOut = as2d(scale ? tf.mul(dY1, scale) : dY1);
  const [dFolded, dProjW, dProjB] = denseBackward(dAttnOut, as2d(c.folded), w.projW);
  const dMixed = windowsToHeads(unfold3x3s2(dFolded, foldGrid(g)), g);
  const dProbs = tf.matMul(dMixed, c.values as tf.Tensor3D, false, true);
  const dValues = tf.matMul(c.probs as tf.Tensor3D, dMixed, true, false);
  const dLogits = tf.reshape(tf.mul(softmaxBackward(dProbs, c.probs), 1 / Math.sqrt(g.headWidth)), [
    g.pooled,
    g.heads * K2 * K2,
  ]) as tf.Tensor2D;
  const [dPooled, dAttnW, dAttnB] = denseBackward(dLogits, as2d(c.pooled), w.attnW);
  const dV = tf.reshape(fold3x3s2(headsToWindows(dValues, g), foldGrid(g)), [
    g.batch * g.grid * g.grid,
    g.width,
  ]) as tf.Tensor2D;
  const dLn1 = tf.add(avgPool2Backward(dPooled, g), matMulT(dV, w.vW, false, true)) as tf.Tensor2D;
  const dVW = matMulT(c.ln1, dV, true, false);
  const [dXNorm, dNorm1Gamma, dNorm1Beta] = layerNormBackward(
    dLn1,
    { normalised: as2d(c.norm1), rstd: as2d(c.rstd1) },
    w.norm1Gamma,
  );
  const grads = [
    tf.add(dY1, dXNorm),
    dNorm1Gamma,
    dNorm1Beta,
    dVW,
    dAttnW,
    dAttnB,
    dProjW,
    dProjB,
    m.dGamma,
    m.dBeta,
    m.dFc1W,
    m.dFc1B,
    m.dFc2W,
    m.dFc2B,
  ];
  if (w.rezero) {
    // The one scalar scales both branches: d/ds Σ dy·(o·s·keep) = Σ dy·o·keep over both.
    const { attnOut, mlpOut } = c;
    if (!attnOut || !mlpOut) throw new Error("the outlooker's forward pass kept no branch outputs");
    const branchSum = (d: tf.Tensor, out: tf.Tensor) => tf.sum(tf.mul(d, keep ? tf.mul(out, keep) : out));
    grads.push(tf.reshape(tf.add(branchSum(dy, mlpOut), branchSum(dY1, attnOut)), w.rezero.shape));
  }
  return grads;
}

/** Outlooker `index` on the outlooker-grid stream [B·H·W, C]; differentiable in x and its weights. */
export function outlooker(
  config: ViTConfig,
  weights: WeightMap,
  x: tf.Tensor2D,
  shape: OutlookerShape,
): tf.Tensor2D {
  const volo = requireVolo(config);
  const prefix = blockPrefix(shape.index);
  const inputs = [x, ...WEIGHTS.map((name) => requireWeight(weights, prefix + name))];
  const rezero = weights.get(`${prefix}rezero`);
  if (rezero) inputs.push(rezero);
  const g: Geometry = {
    batch: shape.batch,
    grid: shape.grid,
    pooled: (shape.batch * shape.grid * shape.grid) / 4,
    width: volo.outlookerWidth,
    heads: volo.outlookerHeads,
    headWidth: volo.outlookerWidth / volo.outlookerHeads,
  };
  const { keep } = shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, ...rest] = args as tf.Tensor[];
    const params = paramsOf(rest);
    const { y, cache, mlp } = outlookerForward(g, input as tf.Tensor2D, params, keep);
    const keys = params.rezero ? [...CACHE_KEYS, ...REZERO_CACHE_KEYS] : CACHE_KEYS;
    save([
      ...keys.map((key) => cache[key] as tf.Tensor),
      ...MLP_CACHE_KEYS.map((key) => mlp[key]),
      ...(keep ? [keep] : []),
    ]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const restored = Object.fromEntries(keys.map((key, i) => [key, saved[i]])) as Cache;
          const restoredMlp = Object.fromEntries(
            MLP_CACHE_KEYS.map((key, i) => [key, saved[keys.length + i]]),
          ) as MlpCache;
          const savedKeep = keep ? (saved[keys.length + MLP_CACHE_KEYS.length] as tf.Tensor) : null;
          return outlookerBackward(g, dy as tf.Tensor2D, restored, restoredMlp, params, savedKeep);
        }),
    };
  }) as (...tensors: tf.Tensor[]) => tf.Tensor2D;
  return op(...inputs);
}
