import type * as tf from "@tensorflow/tfjs";
import type { ViTConfig } from "../model/config.ts";
import { type AdamW, clipByGlobalNorm, type FlatGradient } from "./adamw.ts";
import type { BatchArrays } from "./batch-tensors.ts";
import type { EmaCopy } from "./ema.ts";
import { batchGradients, type GradientOptions, readLossAndCorrect } from "./gradients.ts";

export interface StepOptions extends GradientOptions {
  readonly lr: number;
  readonly gradClipNorm: number | null;
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
  /** Mixed precision: the step was skipped for an inf/NaN gradient (its loss may be non-finite). */
  readonly skipped?: boolean;
  /** Mixed precision: the loss scale after the step. */
  readonly lossScale?: number;
}

/**
 * What every step does with its gradient, however it was computed: optional clipping, AdamW on
 * the flat buffers, then every EMA from the new flat parameters. Consumes the gradient.
 */
export function applyGradients(
  model: StepModel,
  gradient: FlatGradient,
  options: Pick<StepOptions, "lr" | "gradClipNorm">,
): void {
  const clipped =
    options.gradClipNorm === null
      ? gradient
      : { ...gradient, flat: clipByGlobalNorm(gradient.flat, options.gradClipNorm) };
  const params = model.optimizer.apply(model.weights, clipped, options.lr);
  for (const ema of model.emas) ema.update(params, gradient.layout);
  gradient.flat.dispose();
  if (clipped !== gradient) clipped.flat.dispose();
}

/** One optimizer step on one thread: the batch's gradient, then `applyGradients`. */
export async function trainStep(
  model: StepModel,
  batch: BatchArrays,
  options: StepOptions,
): Promise<StepResult> {
  const gradient = batchGradients(model.config, model.weights, batch, options);
  applyGradients(model, gradient, options);
  return readLossAndCorrect(gradient);
}
