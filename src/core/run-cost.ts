import { stageBatchSize } from "./batch-scaling.ts";
import { forwardFlops } from "./flops.ts";
import { type Architecture, growthGrid, growthSpaceOptions, stageSpace } from "./growth-space.ts";
import {
  activationsPerImage,
  BYTES_PER_ELEMENT,
  evaluationActivationsPerImage,
  fullParameters,
  GRADIENT_COPIES,
  type MemoryParts,
  peakBytes,
  persistentCopies,
  UPDATE_COPIES,
} from "./memory.ts";
import { tokenCount, type ViTConfig } from "./model-config.ts";
import { modelConfigOf, planArm } from "./plan.ts";
import { stageIndexAt } from "./schedule.ts";
import { type ArmSpec, armLabel, DATASET_SHAPES, type ExperimentSpec } from "./spec.ts";

/**
 * What one run of an arm will take, before any tensor exists: its peak memory per step and its
 * total work. The API refuses a spec whose run is past the server's ceilings
 * (AUTOPROG_MAX_RUN_GB / AUTOPROG_MAX_RUN_PFLOPS) and shows the estimate in `POST /v1/experiments/validate`'s
 * plan; the trainer stops a run that holds far more than its estimate (src/train/memory-guard.ts).
 */

/** A training step costs about three forward passes (forward, and backward through inputs and weights). */
export const TRAIN_FLOPS_PER_FORWARD = 3;

export interface RunCeilings {
  /** Peak memory one run may need, in bytes. */
  readonly maxRunBytes: number;
  /** Total floating-point operations one run may need. */
  readonly maxRunFlops: number;
}

/**
 * Where no runtime sizes them (tests, the portable app): 16 GB, a GPU trainer's usual memory,
 * and 100 PFLOP, about a day of a GPU that sustains 1 TFLOP/s under TensorFlow.js. Node sizes
 * the memory ceiling from the machine (src/env.ts).
 */
export const DEFAULT_RUN_CEILINGS: RunCeilings = { maxRunBytes: 16e9, maxRunFlops: 100e15 };

/** A step's shape: the sub-network and the batch it trains at. */
export interface StepShape extends Architecture {
  readonly tokens: number;
  readonly batch: number;
}

export interface ArmCost {
  readonly arm: string;
  readonly memory: {
    /** Estimated peak bytes of one run. */
    readonly bytes: number;
    /** The phases the peak is the largest of, in bytes (state is held throughout). */
    readonly parts: MemoryParts;
    /** The training step that keeps the most activations. */
    readonly largestStep: StepShape;
    /** The largest evaluation batch. */
    readonly evaluation: StepShape;
  };
  readonly flops: {
    /** Training steps (3 × forward), every stage at its architecture; a searched stage at the full model. */
    readonly train: number;
    /** Evaluations of the online model and every EMA on the test split. */
    readonly evaluation: number;
    readonly total: number;
  };
}

/** Images of the training and test splits the run reads (the limits applied). */
function splitSizes(spec: ExperimentSpec): { train: number; test: number } {
  const shape = DATASET_SHAPES[spec.dataset.name];
  return {
    train: Math.min(shape.trainImages, spec.dataset.trainLimit ?? Infinity),
    test: Math.min(shape.testImages, spec.dataset.testLimit ?? Infinity),
  };
}

/** Every architecture a run of the arm can train, in no particular order. */
function reachableArchitectures(spec: ExperimentSpec, arm: ArmSpec, config: ViTConfig): Architecture[] {
  const full = { depth: config.depth, side: config.imageSize };
  switch (arm.arm) {
    case "autoprog":
      return [...growthGrid(growthSpaceOptions(spec, config, arm.initialRatio)), full];
    case "supernet": {
      const options = growthSpaceOptions(spec, config, arm.initialRatio);
      return stageSpace(options, 0, full);
    }
    default:
      return planArm(spec, arm).stages.flatMap((s) => (s.architecture ? [s.architecture] : [full]));
  }
}

export function armCost(spec: ExperimentSpec, arm: ArmSpec): ArmCost {
  const config = modelConfigOf(spec);
  const t = spec.training;
  const images = splitSizes(spec);
  const baseBatch = Math.min(t.batchSize, images.train);
  const flopsFull = forwardFlops(config, config.depth, config.imageSize);
  const scaling = t.batchScaling
    ? {
        maxBatch: t.batchScaling.maxBatch ?? 4 * baseBatch,
        multiple: t.batchScaling.multiple,
        lrScaling: t.batchScaling.lrScaling,
      }
    : null;
  const stepOf = (a: Architecture, batch: number): StepShape => ({
    ...a,
    tokens: tokenCount(config, a.side),
    batch,
  });
  const batchOf = (a: Architecture) =>
    arm.arm === "supernet"
      ? baseBatch
      : stageBatchSize(
          {
            baseBatch,
            flopsPerImage: forwardFlops(config, a.depth, a.side),
            flopsFull,
            trainImages: images.train,
          },
          scaling,
        );
  const steps = reachableArchitectures(spec, arm, config).map((a) => stepOf(a, batchOf(a)));
  const activations = (s: StepShape) => s.batch * activationsPerImage(config, s);
  const largestStep = steps.reduce((a, b) => (activations(b) > activations(a) ? b : a));

  const evalBatch = Math.min(t.evalBatchSize, images.test);
  const evaluations = [config.imageSize, ...t.evalSides].map((side) =>
    stepOf({ depth: config.depth, side }, evalBatch),
  );
  const evalActivations = (s: StepShape) => s.batch * evaluationActivationsPerImage(config, s);
  const evaluation = evaluations.reduce((a, b) => (evalActivations(b) > evalActivations(a) ? b : a));

  const parameters = fullParameters(config);
  const emas = t.ema.length;
  // A look-ahead search trains a copy of the whole state beside the run's own.
  const lookAhead = arm.arm === "autoprog" && arm.search.winnerWeights === "regrow" ? 2 : 1;
  // A search keeps its subset of training images as tensors (images and one-hot targets) throughout its phase.
  const subset =
    arm.arm === "autoprog"
      ? Math.min(arm.search.subsetSize, images.train) *
        (config.imageSize ** 2 * config.channels + 2 * config.numClasses)
      : 0;
  const parts: MemoryParts = {
    state: (lookAhead * persistentCopies(emas) * parameters + subset) * BYTES_PER_ELEMENT,
    step: (activations(largestStep) + GRADIENT_COPIES * parameters) * BYTES_PER_ELEMENT,
    update: UPDATE_COPIES * parameters * BYTES_PER_ELEMENT,
    evaluation: (evalActivations(evaluation) + emas * parameters) * BYTES_PER_ELEMENT,
  };
  const flops = workOf(spec, arm, config, images);
  return {
    arm: armLabel(arm),
    memory: { bytes: peakBytes(parts), parts, largestStep, evaluation },
    flops,
  };
}

/** Training and evaluation FLOPs of the arm's whole schedule; a searched stage counts as the full model. */
function workOf(
  spec: ExperimentSpec,
  arm: ArmSpec,
  config: ViTConfig,
  images: { train: number; test: number },
): ArmCost["flops"] {
  const t = spec.training;
  const full = forwardFlops(config, config.depth, config.imageSize);
  const stages = planArm(spec, arm).stages;
  const forwardAt = (epoch: number) => {
    const stage = stages[stageIndexAt(stages, epoch)];
    return stage?.architecture?.flopsPerImage ?? full;
  };
  let train = 0;
  let evaluation = 0;
  const targets = 1 + t.ema.length;
  for (let epoch = 0; epoch < t.epochs; epoch++) {
    const forward = forwardAt(epoch);
    train += TRAIN_FLOPS_PER_FORWARD * forward * images.train;
    const evaluated = (epoch + 1) % t.evalEvery === 0 || epoch + 1 === t.epochs;
    if (evaluated) evaluation += targets * forward * images.test;
  }
  for (const side of new Set(t.evalSides.filter((s) => s !== config.imageSize))) {
    evaluation += targets * forwardFlops(config, config.depth, side) * images.test;
  }
  return { train, evaluation, total: train + evaluation };
}

/** The cost of one run of every arm. */
export function experimentCost(spec: ExperimentSpec): ArmCost[] {
  return spec.arms.map((arm) => armCost(spec, arm));
}

export interface CeilingIssue {
  /** Dotted path of the field that most likely made the run too large. */
  readonly path: string;
  readonly message: string;
}

/**
 * Issues for every arm whose run is past a ceiling, each naming the field to change and giving
 * the estimate. Memory: the batch when a step's activations dominate, the evaluation batch when
 * an evaluation does, the model when its state does; work: the epochs.
 */
export function ceilingIssues(
  spec: ExperimentSpec,
  costs: readonly ArmCost[],
  ceilings: RunCeilings,
): CeilingIssue[] {
  const issues: CeilingIssue[] = [];
  for (const cost of costs) {
    const { memory, flops } = cost;
    if (memory.bytes > ceilings.maxRunBytes) {
      const { parts, largestStep: s, evaluation: e } = memory;
      const largest = Math.max(parts.step, parts.update, parts.evaluation);
      const path =
        parts.state >= largest || parts.update === largest
          ? `model.${(["width", "depth", "mlpRatio"] as const).find((f) => spec.model[f] !== undefined) ?? "variant"}`
          : parts.step === largest
            ? "training.batchSize"
            : "training.evalBatchSize";
      issues.push({
        path,
        message:
          `arm ${cost.arm}: a run needs about ${gb(memory.bytes)} (weights, AdamW and EMAs ${gb(parts.state)}; ` +
          `a step at batch ${s.batch} of depth ${s.depth} × ${s.tokens} tokens ${gb(parts.step)}; ` +
          `the update ${gb(parts.update)}; an evaluation at batch ${e.batch} × ${e.tokens} tokens ${gb(parts.evaluation)}); ` +
          `this server allows ${gb(ceilings.maxRunBytes)} per run (AUTOPROG_MAX_RUN_GB)`,
      });
    }
    if (flops.total > ceilings.maxRunFlops) {
      issues.push({
        path: "training.epochs",
        message:
          `arm ${cost.arm}: a run needs about ${pflop(flops.total)} (training ${pflop(flops.train)}, ` +
          `evaluation ${pflop(flops.evaluation)}); this server allows ${pflop(ceilings.maxRunFlops)} per run (AUTOPROG_MAX_RUN_PFLOPS)`,
      });
    }
  }
  return issues;
}

/** Three significant digits, never in exponent notation. */
const figure = (x: number) => (x >= 100 ? String(Math.round(x)) : x.toPrecision(3));
const gb = (bytes: number) => `${figure(bytes / 1e9)} GB`;
const pflop = (flops: number) => `${figure(flops / 1e15)} PFLOP`;
