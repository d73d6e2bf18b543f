import * as tf from "@tensorflow/tfjs";
import type { Random } from "../core/random.ts";
import type { Batch } from "../data/batch.ts";
import { downsample } from "../data/resize.ts";
import type { ViTConfig } from "../model/config.ts";
import { forward } from "../model/vit.ts";
import { type AdamW, clipByGlobalNorm } from "./adamw.ts";
import { type EmaCopy, updateEma } from "./ema.ts";

export interface StepOptions {
  readonly side: number;
  readonly activeBlocks: readonly boolean[];
  readonly lr: number;
  readonly labelSmoothing: number;
  readonly gradClipNorm: number | null;
  readonly dropPath: { readonly rate: number; readonly random: Random } | null;
}

export interface StepModel {
  readonly config: ViTConfig;
  readonly weights: ReadonlyMap<string, tf.Variable>;
  readonly optimizer: AdamW;
  readonly emas: readonly EmaCopy[];
}

export interface StepResult {
  readonly loss: number;
  readonly correct: number;
}

/** Soft-target cross-entropy with label smoothing, averaged over the batch. */
export function smoothedCrossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor2D,
  smoothing: number,
): tf.Scalar {
  const classes = targets.shape[1];
  const smoothed = smoothing > 0 ? tf.add(tf.mul(targets, 1 - smoothing), smoothing / classes) : targets;
  return tf.neg(tf.mean(tf.sum(tf.mul(smoothed, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/** The blocks whose weights a pass with this mask touches (others get no gradient and no update). */
export function activeWeightNames(
  weights: ReadonlyMap<string, tf.Variable>,
  activeBlocks: readonly boolean[],
): string[] {
  return [...weights.keys()].filter((name) => {
    const match = /^blocks\.(\d+)\./.exec(name);
    return !match || activeBlocks[Number(match[1])] === true;
  });
}

/**
 * One optimizer step: forward at the given side and mask, backward, optional clipping, AdamW,
 * then every EMA. Reads back only two scalars.
 */
export async function trainStep(model: StepModel, batch: Batch, options: StepOptions): Promise<StepResult> {
  const names = activeWeightNames(model.weights, options.activeBlocks);
  const variables = names.map((name) => model.weights.get(name) as tf.Variable);
  const byVariableName = new Map(variables.map((v, i) => [v.name, names[i] as string]));

  const full = tf.tensor4d(batch.x, [batch.size, batch.side, batch.side, batch.channels]);
  const x = options.side === batch.side ? full : downsample(full, options.side);
  const targets = tf.tensor2d(batch.targets, [batch.size, batch.numClasses]);
  const labels = tf.tensor1d(batch.labels, "int32");
  let correct: tf.Scalar | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const logits = forward(model.config, model.weights, x, {
      side: options.side,
      activeBlocks: options.activeBlocks,
      ...(options.dropPath ? { dropPath: options.dropPath } : {}),
    });
    correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32"))) as tf.Scalar;
    return smoothedCrossEntropy(logits, targets, options.labelSmoothing);
  }, variables);

  const named: tf.NamedTensorMap = {};
  for (const [variableName, grad] of Object.entries(grads)) {
    named[byVariableName.get(variableName) ?? variableName] = grad;
  }
  const applied = options.gradClipNorm === null ? named : clipByGlobalNorm(named, options.gradClipNorm);
  model.optimizer.apply(model.weights, applied, options.lr);
  for (const ema of model.emas) updateEma(ema, model.weights);

  const correctTensor = correct as tf.Scalar | null;
  const [lossValue, correctValue] = await Promise.all([
    value.data(),
    correctTensor ? correctTensor.data() : [0],
  ]);
  tf.dispose([full, x, targets, labels, value, correctTensor ?? []]);
  tf.dispose(Object.values(grads));
  if (applied !== named) tf.dispose(Object.values(applied));
  return { loss: lossValue[0] ?? Number.NaN, correct: correctValue[0] ?? 0 };
}
