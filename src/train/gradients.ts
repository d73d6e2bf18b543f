import * as tf from "@tensorflow/tfjs";
import type { Random } from "../core/random.ts";
import type { ViTConfig } from "../model/config.ts";
import type { WeightMap } from "../model/params.ts";
import { forward } from "../model/vit.ts";
import type { FlatGradient } from "./adamw.ts";
import { type BatchArrays, disposeBatchTensors, toBatchTensors } from "./batch-tensors.ts";
import { FlatLayout } from "./flat.ts";
import { smoothedCrossEntropy } from "./loss.ts";

export interface GradientOptions {
  readonly side: number;
  readonly activeBlocks: readonly boolean[];
  readonly labelSmoothing: number;
  readonly dropPath: { readonly rate: number; readonly random: Random } | null;
}

export interface BatchGradients extends FlatGradient {
  /** Mean loss over the batch and its number of correct top-1 predictions, still on the backend. */
  readonly loss: tf.Scalar;
  readonly correct: tf.Scalar;
}

/** Reads (and releases) the two scalars of a gradient pass. */
export async function readLossAndCorrect(
  gradients: BatchGradients,
): Promise<{ loss: number; correct: number }> {
  const [loss, correct] = await Promise.all([gradients.loss.data(), gradients.correct.data()]);
  tf.dispose([gradients.loss, gradients.correct]);
  return { loss: loss[0] ?? Number.NaN, correct: correct[0] ?? 0 };
}

/** The blocks whose weights a pass with this mask touches (others get no gradient and no update). */
export function activeWeightNames(weights: WeightMap, activeBlocks: readonly boolean[]): string[] {
  return [...weights.keys()].filter((name) => {
    const match = /^blocks\.(\d+)\./.exec(name);
    return !match || activeBlocks[Number(match[1])] === true;
  });
}

/**
 * Gradient of the mean (label-smoothed) loss over one batch with respect to the active
 * weights, as one flat buffer over all weights (zeros where inactive). The same function serves
 * a single-thread step and every shard of a data-parallel one. Reads nothing back, so an
 * accelerator can go on with the update while the caller waits for the loss.
 */
export function batchGradients(
  config: ViTConfig,
  weights: WeightMap,
  batch: BatchArrays,
  options: GradientOptions,
): BatchGradients {
  const layout = FlatLayout.of(weights);
  const names = activeWeightNames(weights, options.activeBlocks);
  const tensors = toBatchTensors(batch, options.side);
  let correct: tf.Scalar | null = null;
  // valueAndGrads hands the callback the very tensors it is given (the active weights), so the
  // forward pass reads them from `weights` itself; the list only says which ones get gradients.
  const { value, grads } = tf.valueAndGrads(() => {
    const logits = forward(config, weights, tensors.x, {
      side: options.side,
      activeBlocks: options.activeBlocks,
      ...(options.dropPath ? { dropPath: options.dropPath } : {}),
    });
    correct = tf.keep(
      tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tensors.labels), "float32")),
    ) as tf.Scalar;
    return smoothedCrossEntropy(logits, tensors.targets, options.labelSmoothing);
  })(names.map((name) => weights.get(name) as tf.Tensor));
  const flat = layout.flatten(new Map(names.map((name, i) => [name, grads[i] as tf.Tensor])));
  tf.dispose(grads);
  disposeBatchTensors(tensors);
  return {
    layout,
    flat,
    updated: names.length === layout.entries.length ? null : names,
    loss: value as tf.Scalar,
    correct: correct ?? tf.scalar(0),
  };
}
