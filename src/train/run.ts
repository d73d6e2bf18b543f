import { type BackendInfo, BackendSetupError, initBackend } from "../backend/select.ts";
import type { EpochRecord, FailureReason, RunResult, TrainingEvent } from "../core/events.ts";
import { forwardFlops, parameterCount } from "../core/flops.ts";
import { type LrSchedule, lrAt } from "../core/lr.ts";
import { createRandom } from "../core/random.ts";
import { type ArmSpec, defaultImageSize, type ExperimentSpec } from "../core/spec.ts";
import { type AugmentOptions, DEFAULT_AUGMENT } from "../data/augment.ts";
import { makeBatch } from "../data/batch.ts";
import { batchSlices, epochOrder } from "../data/batches.ts";
import { type ImageDataset, loadDataset } from "../data/dataset.ts";
import { modelConfigFromSpec, tokenCount, type ViTConfig } from "../model/config.ts";
import { fullMask } from "../model/vit.ts";
import { type CheckpointStore, specHash } from "./checkpoint.ts";
import { evaluate } from "./evaluate.ts";
import {
  createModelState,
  disposeModelState,
  type ModelState,
  restoreModelState,
  saveModelState,
} from "./state.ts";
import { trainStep } from "./step.ts";

export interface RunOptions {
  /** Which arm of the spec to run (default: the first). */
  readonly arm?: ArmSpec["arm"];
  /** Which seed (default: the spec's first). */
  readonly seed?: number;
  readonly onEvent?: (event: TrainingEvent) => void;
  /** Called after every step (progress bars); not part of the persisted event stream. */
  readonly onProgress?: (progress: StepProgress) => void;
  /** Checked between steps; an aborted run fails with reason "cancelled". */
  readonly signal?: AbortSignal;
  /** Where epoch checkpoints go and where a resume looks; null = none. */
  readonly checkpoints?: CheckpointStore | null;
  /** Overrides the spec's backend preference (CLI --backend, AUTOPROG_BACKEND). */
  readonly backend?: ExperimentSpec["backend"];
  /** Where decoded dataset caches go. */
  readonly cacheDir?: string;
}

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

/** A run that stopped; the matching run.failed event has already been emitted. */
export class TrainingFailure extends Error {
  override readonly name = "TrainingFailure";
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

// Purposes that separate the random streams derived from one seed.
const SHUFFLE = 1;
const AUGMENT = 2;
const DROP_PATH = 3;

/** Trains one arm of a spec with one seed and emits the typed event stream. */
export async function runTraining(spec: ExperimentSpec, options: RunOptions = {}): Promise<RunResult> {
  const arm = spec.arms.find((a) => a.arm === (options.arm ?? spec.arms[0]?.arm));
  const seed = options.seed ?? spec.seeds[0] ?? 0;
  const emit = options.onEvent ?? (() => {});
  let position: { epoch: number | null; step: number | null } = { epoch: null, step: null };
  const fail = (reason: FailureReason, message: string): TrainingFailure => {
    emit({ type: "run.failed", reason, message, ...position });
    return new TrainingFailure(reason, message);
  };
  if (!arm) throw fail("failed_setup", `the spec has no arm ${options.arm}`);

  let setup: Setup;
  try {
    setup = await prepare(spec, options);
  } catch (error) {
    throw fail("failed_setup", error instanceof Error ? error.message : String(error));
  }
  const { backend, train, test, config } = setup;
  const t = spec.training;
  const batchSize = Math.min(t.batchSize, train.count);
  const stepsPerEpoch = Math.floor(train.count / batchSize);
  const totalSteps = stepsPerEpoch * t.epochs;
  const lrSchedule: LrSchedule = {
    peak: t.lr,
    floor: t.minLr,
    warmupSteps: Math.round(t.warmupEpochs * stepsPerEpoch),
    totalSteps,
  };
  const stageSteps = totalSteps / t.stages;
  const augment: AugmentOptions = { ...DEFAULT_AUGMENT[spec.dataset.name], ...definedOnly(t.augment) };
  const hash = specHash(spec);
  const flopsFull = forwardFlops(config, config.depth, config.imageSize);

  let state: ModelState;
  const checkpoint = options.checkpoints ? await options.checkpoints.loadLatest() : null;
  try {
    if (checkpoint) {
      if (
        checkpoint.meta.specHash !== hash ||
        checkpoint.meta.arm !== arm.arm ||
        checkpoint.meta.seed !== seed
      ) {
        throw new Error("the checkpoint belongs to another spec, arm or seed");
      }
      state = restoreModelState(config, checkpoint, t.weightDecay);
    } else {
      state = createModelState(config, config.depth, seed, t.ema, stageSteps, t.weightDecay);
    }
  } catch (error) {
    throw fail("failed_setup", error instanceof Error ? error.message : String(error));
  }

  emit({
    type: "run.started",
    arm: arm.arm,
    seed,
    backend: reportOf(backend),
    epochs: t.epochs,
    stepsPerEpoch,
    trainImages: train.count,
    testImages: test.count,
    parameters: parameterCount(config, config.depth),
    flopsFull,
    startEpoch: state.epoch,
  });

  try {
    while (state.epoch < t.epochs) {
      const epoch = state.epoch;
      const depth = config.depth;
      const side = config.imageSize;
      const activeBlocks = fullMask(depth);
      const epochStart = performance.now();
      const order = epochOrder(train.count, seed * 1000 + SHUFFLE, epoch);
      const slices = batchSlices(order, batchSize, true);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let flopsSum = 0;
      let lr = 0;
      for (let b = 0; b < slices.length; b++) {
        if (options.signal?.aborted) throw new TrainingFailure("cancelled", "the run was cancelled");
        position = { epoch, step: state.step };
        lr = lrAt(lrSchedule, state.step);
        const batch = makeBatch(train, slices[b] as Int32Array, {
          side: config.imageSize,
          augment,
          random: createRandom(seed, AUGMENT, epoch, b),
        });
        const result = await trainStep(state, batch, {
          side,
          activeBlocks,
          lr,
          labelSmoothing: t.labelSmoothing,
          gradClipNorm: t.gradClipNorm,
          dropPath:
            t.dropPath > 0 ? { rate: t.dropPath, random: createRandom(seed, DROP_PATH, epoch, b) } : null,
        });
        if (!Number.isFinite(result.loss)) {
          throw new TrainingFailure(
            "non_finite_loss",
            `the loss became ${result.loss} at epoch ${epoch}, step ${state.step}`,
          );
        }
        lossSum += result.loss * batch.size;
        correct += result.correct;
        seen += batch.size;
        flopsSum += forwardFlops(config, depth, side);
        state.step += 1;
        options.onProgress?.({
          epoch,
          epochs: t.epochs,
          stepInEpoch: b + 1,
          stepsPerEpoch,
          loss: lossSum / seen,
          accuracy: correct / seen,
          imagesPerSecond: seen / ((performance.now() - epochStart) / 1000),
        });
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const scores = await evaluate(config, evaluationTargets(state), test, {
        side,
        activeBlocks,
        batchSize: t.evalBatchSize,
      });
      const record = epochRecord(
        epoch,
        state,
        { lossSum, correct, seen, lr, trainSeconds, flopsSum, slices: slices.length },
        scores,
        {
          depth,
          side,
          tokens: tokenCount(config, side),
        },
      );
      state.history.push(record);
      state.flopsSum += flopsSum;
      state.trainSeconds += trainSeconds;
      state.epoch += 1;
      state.wallSeconds += (performance.now() - epochStart) / 1000;
      emit({ type: "epoch.completed", ...record });
      if (options.checkpoints) {
        const location = await saveModelState(options.checkpoints, state, {
          arm: arm.arm,
          seed,
          specHash: hash,
          side,
        });
        emit({ type: "checkpoint.saved", epoch: state.epoch, step: state.step, location });
      }
    }
  } catch (error) {
    disposeModelState(state);
    if (error instanceof TrainingFailure) throw fail(error.reason, error.message);
    throw fail("error", error instanceof Error ? error.message : String(error));
  }

  const result = summarise(arm.arm, seed, backend, config, state, totalSteps, flopsFull);
  disposeModelState(state);
  emit({ type: "run.completed", result });
  return result;
}

interface Setup {
  readonly backend: BackendInfo;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  readonly config: ViTConfig;
}

async function prepare(spec: ExperimentSpec, options: RunOptions): Promise<Setup> {
  const preference = options.backend ?? spec.backend;
  const backend = await initBackend({ preference, requireGpu: spec.requireGpu }).catch((error: unknown) => {
    throw error instanceof BackendSetupError ? error : new BackendSetupError(String(error));
  });
  const load = (split: "train" | "test", limit: number | undefined) =>
    loadDataset(spec.dataset.name, split, {
      ...(limit !== undefined ? { limit } : {}),
      ...(spec.dataset.root !== undefined ? { root: spec.dataset.root } : {}),
      ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    });
  const [train, test] = await Promise.all([
    load("train", spec.dataset.trainLimit),
    load("test", spec.dataset.testLimit),
  ]);
  const config = modelConfigFromSpec(spec.model, {
    imageSize: defaultImageSize(spec.dataset.name),
    channels: train.channels,
    numClasses: train.numClasses,
  });
  return { backend, train, test, config };
}

function evaluationTargets(state: ModelState) {
  return [
    { name: "online", weights: state.weights },
    ...state.emas.map((e) => ({ name: e.name, weights: e.weights })),
  ];
}

interface EpochTotals {
  readonly lossSum: number;
  readonly correct: number;
  readonly seen: number;
  readonly lr: number;
  readonly trainSeconds: number;
  readonly flopsSum: number;
  readonly slices: number;
}

function epochRecord(
  epoch: number,
  state: ModelState,
  totals: EpochTotals,
  scores: Record<string, { top1: number }>,
  architecture: EpochRecord["architecture"],
): EpochRecord {
  const ema: Record<string, number> = {};
  let best = scores.online?.top1 ?? 0;
  let bestSource = "online";
  for (const copy of state.emas) {
    const top1 = scores[copy.name]?.top1 ?? 0;
    ema[copy.name] = top1;
    if (top1 > best) {
      best = top1;
      bestSource = copy.name;
    }
  }
  return {
    epoch,
    step: state.step,
    trainLoss: totals.lossSum / Math.max(1, totals.seen),
    trainAccuracy: totals.correct / Math.max(1, totals.seen),
    lr: totals.lr,
    imagesPerSecond: totals.seen / Math.max(1e-9, totals.trainSeconds),
    epochSeconds: totals.trainSeconds,
    flopsPerImage: totals.flopsSum / Math.max(1, totals.slices),
    architecture,
    evaluation: { online: scores.online?.top1 ?? 0, ema, best, bestSource },
  };
}

function summarise(
  arm: string,
  seed: number,
  backend: BackendInfo,
  config: ViTConfig,
  state: ModelState,
  totalSteps: number,
  flopsFull: number,
): RunResult {
  const last = state.history.at(-1);
  return {
    arm,
    seed,
    backend: reportOf(backend),
    epochs: state.history.length,
    steps: totalSteps,
    top1: last?.evaluation.best ?? 0,
    bestTop1: Math.max(0, ...state.history.map((h) => h.evaluation.best)),
    wallSeconds: state.wallSeconds,
    trainSeconds: state.trainSeconds,
    flopsPerStepMean: state.flopsSum / Math.max(1, state.step),
    flopsFull,
    parameters: parameterCount(config, config.depth),
    history: state.history,
  };
}

function reportOf(info: BackendInfo) {
  return {
    name: info.name,
    package: info.package,
    threads: info.threads,
    device: info.device,
    gpu: info.gpu,
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
