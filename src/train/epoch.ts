import { lrPosition } from "../core/batch-scaling.ts";
import { forwardFlops } from "../core/flops.ts";
import type { LrSchedule } from "../core/lr.ts";
import { lrAt } from "../core/lr.ts";
import { createRandom, RANDOM_STREAMS, streamSeed } from "../core/random.ts";
import type { AugmentOptions } from "../data/augment.ts";
import { makeBatch } from "../data/batch.ts";
import { batchSlices, epochOrder } from "../data/batches.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { EpochProgress } from "./checkpoint-meta.ts";
import type { CompiledSteps } from "./compiled-steps.ts";
import { MEMORY_CHECK_EVERY_STEPS, type MemoryGuard, memoryExceeded } from "./memory-guard.ts";
import type { GradientPool } from "./parallel/pool.ts";
import { parallelTrainStep } from "./parallel/step.ts";
import type { ModelState } from "./state.ts";
import { type StepOptions, type StepResult, trainStep } from "./step.ts";

// Purposes that separate the random streams derived from one seed.
const { augment: AUGMENT, dropPath: DROP_PATH } = RANDOM_STREAMS;

export interface StepProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  /** Running means over the epoch so far. */
  readonly loss: number;
  readonly accuracy: number;
  readonly imagesPerSecond: number;
}

export interface EpochSettings {
  readonly train: ImageDataset;
  readonly seed: number;
  /** This epoch's batch (the stage's, under batch scaling). */
  readonly batchSize: number;
  readonly epochs: number;
  /** The LR curve, in steps of the spec's batch; a step at another batch reads it by images seen. */
  readonly lrSchedule: LrSchedule;
  readonly baseStepsPerEpoch: number;
  /** Multiplies the curve's LR (batch scaling's LR rule; 1 at the base batch). */
  readonly lrScale: number;
  readonly labelSmoothing: number;
  readonly gradClipNorm: number | null;
  readonly dropPath: number;
  readonly augment: AugmentOptions;
  readonly signal: AbortSignal | undefined;
  /** Awaited before every step (RunOptions.betweenSteps). */
  readonly betweenSteps?: (() => Promise<void>) | undefined;
  /** RunOptions.pause: once aborted, the epoch stops at its next step boundary with EpochPaused. */
  readonly pause?: AbortSignal | undefined;
  /** Continues an epoch a pause cut at this position (null or absent: from its first step). */
  readonly resume?: EpochProgress | null | undefined;
  readonly onProgress: ((progress: StepProgress) => void) | undefined;
  /**
   * Supernet training: the architecture of each step, drawn by the caller; undefined for a step
   * that trains the model's own architecture (after the supernet phase ended inside the epoch).
   */
  readonly sample?:
    | ((step: number) => { side: number; activeBlocks: readonly boolean[] } | undefined)
    | undefined;
  /**
   * Measurement points: `run(b)` is awaited before step b (b = steps count: after the last
   * step). Its time is excluded from the epoch's training seconds.
   */
  /** Gradient threads for data-parallel steps (null: single thread). */
  readonly pool?: GradientPool | null;
  /** The webgpu backend's compiled step (single-thread steps only); null: the tfjs step. */
  readonly compiled?: CompiledSteps | null;
  readonly measure?:
    | { readonly steps: ReadonlySet<number>; readonly run: (step: number) => Promise<void> }
    | undefined;
  /** Runs only the epoch's first `stepLimit` steps (a look-ahead that ends inside it); all by default. */
  readonly stepLimit?: number | undefined;
  /** Stops the run when its tensors pass the limit (looked at every few steps); none: unguarded. */
  readonly memoryGuard?: MemoryGuard | undefined;
}

export interface EpochTotals {
  readonly loss: number;
  readonly accuracy: number;
  readonly images: number;
  readonly steps: number;
  readonly lastLr: number;
  readonly batchSize: number;
  /** Training seconds, without measurement passes. */
  readonly seconds: number;
  readonly measureSeconds: number;
  /** Forward FLOPs of every image trained (per-image FLOPs × batch, summed over steps). */
  readonly flopsSum: number;
  /** True when some step trained a sampled supernet sub-network. */
  readonly supernet: boolean;
  /** Training seconds up to the last supernet step's end (0 without one). */
  readonly supernetSeconds: number;
  /** What the epoch trained: the model's architecture, or a supernet's largest candidate. */
  readonly architecture: { readonly depth: number; readonly side: number };
  /** Mixed precision: steps skipped for an inf/NaN gradient (not in loss or accuracy). */
  readonly skippedSteps: number;
}

/**
 * Consecutive skipped steps that end a mixed-precision run as non_finite_loss: each halves the
 * loss scale, so by then the scale is 2⁻¹⁶ of where it was and the model itself has diverged.
 */
export const MAX_CONSECUTIVE_SKIPPED_STEPS = 32;

/** Stops a run between steps; `reason` becomes the run.failed reason. */
export class RunInterrupted extends Error {
  constructor(
    readonly reason: "cancelled" | "non_finite_loss" | "out_of_memory",
    message: string,
  ) {
    super(message);
  }
}

/** The part of an epoch's progress the epoch loop knows (the run loop adds its clocks). */
export type EpochPosition = Omit<EpochProgress, "wallSeconds" | "cpuSeconds">;

/** A pause stopped the epoch at a step boundary: the steps before `position.steps` are trained. */
export class EpochPaused extends Error {
  constructor(readonly position: EpochPosition) {
    super(`paused at step ${position.steps} of the epoch`);
  }
}

/** One pass over the training set at the state's current architecture. */
export async function trainEpoch(state: ModelState, settings: EpochSettings): Promise<EpochTotals> {
  const { train, seed, batchSize } = settings;
  const epoch = state.epoch;
  const start = performance.now();
  const architecture = { depth: state.activeBlocks.filter(Boolean).length, side: state.side };
  const slices = batchSlices(epochOrder(train.count, streamSeed(seed, "shuffle"), epoch), batchSize, true);
  let flopsSum = 0;
  let measureSeconds = 0;
  // A compiled step trains a GPU copy of the state: the tfjs state is brought up to date before a
  // measurement reads it (and the copy reloaded after, as a measurement may change the model).
  const compiled = settings.pool ? null : (settings.compiled ?? null);
  if (compiled) await compiled.load(state);
  const measure = async (b: number, last = false) => {
    if (!settings.measure?.steps.has(b)) return;
    const began = performance.now();
    if (compiled && !last) await compiled.store(state);
    await settings.measure.run(b);
    if (compiled && !last) await compiled.load(state);
    measureSeconds += (performance.now() - began) / 1000;
  };
  // A resumed epoch continues its running sums; its data order is the same (seed and epoch).
  const resume = settings.resume ?? null;
  const first = resume?.steps ?? 0;
  const priorSeconds = resume?.seconds ?? 0;
  flopsSum = resume?.flopsSum ?? 0;
  let lossSum = resume?.lossSum ?? 0;
  let correct = resume?.correct ?? 0;
  let seen = resume?.seen ?? 0;
  let lr = resume?.lastLr ?? 0;
  // Only an epoch whose steps carry no state of their own across the cut (no supernet sampling,
  // no candidate measurements, not a look-ahead) is cut by a pause.
  const pausable = !settings.sample && !settings.measure && settings.stepLimit === undefined;
  // One step stays in flight: step b+1 is dispatched before step b's loss is read back, so on an
  // accelerator the host prepares and dispatches the next step while the device runs this one
  // (wasm and cpu compute on dispatch, so nothing changes there). Data-parallel steps wait for
  // their threads and are not overlapped.
  let inFlight: { result: Promise<StepResult>; size: number; index: number; sampled: boolean } | null = null;
  let sampledSteps = 0;
  let supernetSeconds = 0;
  let skippedSteps = 0;
  let skippedInARow = 0;
  const steps = Math.min(slices.length, settings.stepLimit ?? slices.length);
  const finish = async () => {
    if (!inFlight) return;
    const { result: pending, size, index, sampled } = inFlight;
    inFlight = null;
    const result = await pending;
    if (result.skipped) {
      // Loss scaling skipped it (its loss may be inf/NaN): no update, nothing to average.
      skippedSteps += 1;
      skippedInARow += 1;
      if (skippedInARow >= MAX_CONSECUTIVE_SKIPPED_STEPS) {
        throw new RunInterrupted(
          "non_finite_loss",
          `${skippedInARow} steps in a row had an inf/NaN gradient (loss scale now ${result.lossScale}) at epoch ${epoch}, step ${index + 1} of the epoch`,
        );
      }
      return;
    }
    skippedInARow = 0;
    if (!Number.isFinite(result.loss)) {
      throw new RunInterrupted(
        "non_finite_loss",
        `the loss became ${result.loss} at epoch ${epoch}, step ${index + 1} of the epoch`,
      );
    }
    // The phase's last step is finished before the search point that ends it: a clean mark.
    if (sampled) supernetSeconds = (performance.now() - start) / 1000 - measureSeconds;
    lossSum += result.loss * size;
    correct += result.correct;
    seen += size;
    settings.onProgress?.({
      epoch,
      epochs: settings.epochs,
      stepInEpoch: index + 1,
      stepsPerEpoch: slices.length,
      loss: lossSum / seen,
      accuracy: correct / seen,
      imagesPerSecond: seen / ((performance.now() - start) / 1000 - measureSeconds),
    });
  };
  for (let b = first; b < steps; b++) {
    await settings.betweenSteps?.();
    if (settings.signal?.aborted) throw new RunInterrupted("cancelled", "the run was cancelled");
    if (pausable && b > first && settings.pause?.aborted) {
      await finish();
      if (compiled) await compiled.store(state);
      const seconds = priorSeconds + (performance.now() - start) / 1000 - measureSeconds;
      throw new EpochPaused({ steps: b, lossSum, correct, seen, flopsSum, lastLr: lr, seconds });
    }
    if (settings.memoryGuard && b % MEMORY_CHECK_EVERY_STEPS === 0) {
      // A step still in flight counts too: its tensors are part of what the estimate covers.
      const exceeded = memoryExceeded(settings.memoryGuard);
      if (exceeded) throw new RunInterrupted("out_of_memory", `${exceeded} (epoch ${epoch}, step ${b + 1})`);
    }
    if (settings.measure?.steps.has(b)) await finish(); // measure the weights after step b−1, untimed
    await measure(b);
    const position = lrPosition(epoch, b, slices.length, settings.baseStepsPerEpoch);
    lr = settings.lrScale * lrAt(settings.lrSchedule, position);
    const drawn = settings.sample?.(b);
    if (drawn) sampledSteps += 1;
    const sampled = drawn ?? { side: state.side, activeBlocks: state.activeBlocks };
    const flopsPerImage = forwardFlops(
      state.config,
      sampled.activeBlocks.filter(Boolean).length,
      sampled.side,
    );
    const batch = makeBatch(train, slices[b] as Int32Array, {
      side: state.config.imageSize,
      augment: settings.augment,
      random: createRandom(seed, AUGMENT, epoch, b),
    });
    flopsSum += flopsPerImage * batch.size;
    const stepOptions: StepOptions = {
      side: sampled.side,
      activeBlocks: sampled.activeBlocks,
      lr,
      labelSmoothing: settings.labelSmoothing,
      gradClipNorm: settings.gradClipNorm,
      dropPath:
        settings.dropPath > 0
          ? { rate: settings.dropPath, random: createRandom(seed, DROP_PATH, epoch, b) }
          : null,
    };
    const result = settings.pool
      ? parallelTrainStep(state, settings.pool, batch, stepOptions)
      : compiled
        ? compiled.step(state, batch, stepOptions)
        : trainStep(state, batch, stepOptions);
    result.catch(() => {}); // observed by finish(); this keeps an early throw from leaving it unhandled
    if (settings.pool) await result; // its threads must finish before the next step is cut
    state.step += 1;
    await finish();
    inFlight = { result, size: batch.size, index: b, sampled: drawn !== undefined };
  }
  await finish();
  if (compiled) await compiled.store(state);
  await measure(steps, true);
  return {
    loss: lossSum / Math.max(1, seen),
    accuracy: correct / Math.max(1, seen),
    images: seen,
    steps,
    lastLr: lr,
    batchSize,
    seconds: priorSeconds + (performance.now() - start) / 1000 - measureSeconds,
    measureSeconds,
    flopsSum,
    supernet: sampledSteps > 0,
    supernetSeconds,
    architecture,
    skippedSteps,
  };
}
