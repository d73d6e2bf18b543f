/**
 * Batch scaling in small stages (issue 10 item 4; the paper's stated future work): a stage whose
 * sub-network costs fewer FLOPs per image trains with a larger batch, so one step costs about
 * what a step of the full model costs and a small network keeps the hardware busy. An epoch still
 * shows every image once; it simply takes fewer steps. Pure arithmetic, no tensors.
 */

/** How the learning rate follows the batch (AdamW: square root is the usual rule; SGD: linear). */
export const LR_SCALING_RULES = ["linear", "sqrt", "none"] as const;
export type LrScalingRule = (typeof LR_SCALING_RULES)[number];

export interface BatchScalingOptions {
  /** Largest batch a stage may use (also never above the training set). */
  readonly maxBatch: number;
  /** A scaled batch is rounded down to a multiple of this (kernels like aligned sizes). */
  readonly multiple: number;
  readonly lrScaling: LrScalingRule;
}

export interface StageBatchInput {
  /** The spec's batch size (already capped by the training set). */
  readonly baseBatch: number;
  readonly flopsPerImage: number;
  /** Forward FLOPs per image of the full model. */
  readonly flopsFull: number;
  readonly trainImages: number;
}

/**
 * The batch of a stage: baseBatch × flopsFull / flopsPerImage (equal FLOPs per step), capped by
 * maxBatch and the training set, rounded down to `multiple`, and never below the base batch.
 * Without options every stage trains at the base batch.
 */
export function stageBatchSize(input: StageBatchInput, options: BatchScalingOptions | null): number {
  const { baseBatch, flopsPerImage, flopsFull, trainImages } = input;
  if (!options || flopsPerImage <= 0 || flopsPerImage >= flopsFull) return baseBatch;
  const equalFlops = (baseBatch * flopsFull) / flopsPerImage;
  const capped = Math.min(equalFlops, options.maxBatch, trainImages);
  const rounded = Math.floor(capped / options.multiple) * options.multiple;
  return Math.max(baseBatch, rounded);
}

/** The LR multiplier of a step at `batch` when the schedule's peak was set for `baseBatch`. */
export function lrScale(rule: LrScalingRule, batch: number, baseBatch: number): number {
  if (batch === baseBatch || rule === "none") return 1;
  const ratio = batch / baseBatch;
  return rule === "linear" ? ratio : Math.sqrt(ratio);
}

/**
 * Where step b of an epoch sits on the LR curve, in base-batch steps: the curve is a function of
 * the images seen (fractional epochs), so a stage with fewer, larger steps walks the same curve
 * and the LR is continuous across stage boundaries. At the base batch this is exactly
 * epoch × baseStepsPerEpoch + b, the step counter of a fixed-batch run.
 */
export function lrPosition(
  epoch: number,
  step: number,
  stepsThisEpoch: number,
  baseStepsPerEpoch: number,
): number {
  return epoch * baseStepsPerEpoch + (step * baseStepsPerEpoch) / stepsThisEpoch;
}

/**
 * EMA horizons are fractions of a stage's steps; a stage with fewer steps keeps the same horizon
 * in images by counting its steps at the base batch: stageSteps × baseBatch / batch.
 */
export function stageStepsAtBatch(baseStageSteps: number, batch: number, baseBatch: number): number {
  return (baseStageSteps * baseBatch) / batch;
}
