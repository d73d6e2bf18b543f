import { FORK_START_SPEC_HASH, INIT_SPEC_HASH_PREFIX } from "../core/checkpoint-layout.ts";
import type { BackendReport, FailureReason, PrecisionReport, TrainingEvent } from "../core/events.ts";
import { parameterCount } from "../core/flops.ts";
import { resnetShapeOf, voloShapeOf } from "../core/model-config.ts";
import { type ArmSpec, armLabel, type ExperimentSpec } from "../core/spec.ts";
import type { PRECISIONS } from "../core/spec-schema.ts";
import type { CheckpointStore } from "./checkpoint.ts";
import { CompiledSteps } from "./compiled-steps.ts";
import { initialWeightsOf } from "./init-weights.ts";
import { type MemoryGuard, memoryGuardFor } from "./memory-guard.ts";
import { GradientPool } from "./parallel/pool.ts";
import type { RunOptions } from "./run-options.ts";
import { initialArchitecture, planRun, type RunPlan } from "./run-plan.ts";
import { prepare, type Setup } from "./setup.ts";
import { createModelState, disposeModelState, type ModelState, restoreModelState } from "./state.ts";

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

/**
 * A run stopped by RunOptions.pause at a step boundary, its checkpoint written there (no
 * terminal event: the run is not over). Opening it again on that checkpoint resumes it exactly.
 */
export class TrainingPaused extends Error {
  override readonly name = "TrainingPaused";
  constructor(
    readonly epoch: number,
    readonly step: number,
  ) {
    super(`the run paused at epoch ${epoch}, step ${step}`);
  }
}

/** Everything an opened run trains with: set up, planned, its state restored or created. */
export interface RunContext {
  readonly spec: ExperimentSpec;
  readonly options: RunOptions;
  readonly setup: Setup;
  readonly plan: RunPlan;
  readonly state: ModelState;
  /** Gradient threads for data-parallel steps (null: single thread). */
  readonly pool: GradientPool | null;
  /** The compiled step of the webgpu backend (null elsewhere, with data-parallel threads, or when switched off). */
  readonly compiled: CompiledSteps | null;
  /** The setup's backend report with the precision the run trains in (run.started and the result carry it). */
  readonly backend: BackendReport;
  readonly emit: (event: TrainingEvent) => void;
  /** Stops the run when its tensors grow far past its estimate. */
  readonly memoryGuard: MemoryGuard;
}

type Precision = (typeof PRECISIONS)[number];

export const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Emits run.failed (at the state's epoch and step, when there is a state), releases the state's
 * tensors and returns the error to throw.
 */
export function failRun(
  emit: (event: TrainingEvent) => void,
  state: ModelState | null,
  reason: FailureReason,
  message: string,
): TrainingFailure {
  emit({ type: "run.failed", reason, message, epoch: state?.epoch ?? null, step: state?.step ?? null });
  if (state) disposeModelState(state);
  return new TrainingFailure(reason, message);
}

/**
 * Sets a run up: backend and data, the plan, the model state (from the latest checkpoint or
 * fresh), run.started, and the gradient threads. Any failure is reported as failed_setup.
 */
export async function openRun(spec: ExperimentSpec, options: RunOptions): Promise<RunContext> {
  const emit = options.onEvent ?? (() => {});
  const failSetup = (message: string, state: ModelState | null = null) =>
    failRun(emit, state, "failed_setup", message);
  const arm = findArm(spec, options.arm);
  if (!arm) throw failSetup(`the spec has no arm ${options.arm}`);
  const seed = options.seed ?? spec.seeds[0] ?? 0;
  const setup = await prepare(spec, options).catch((error: unknown) => {
    throw failSetup(messageOf(error));
  });
  const plan = planRun(spec, arm, seed, setup, emit);
  let state: ModelState;
  try {
    state = await restoreOrCreateState(spec, plan, setup, options.checkpoints ?? null);
  } catch (error) {
    throw failSetup(messageOf(error));
  }
  const workers = options.workers ?? Number(process.env.AUTOPROG_WORKERS ?? 1);
  let compiled: CompiledSteps | null = null;
  // The compiled step encodes the ViT's kernels; VOLO and ResNet train through tfjs ops on every backend.
  const tfjsOnly = voloShapeOf(setup.config) ? "VOLO" : resnetShapeOf(setup.config) ? "ResNet" : null;
  if (workers <= 1 && !tfjsOnly) {
    try {
      compiled = await CompiledSteps.forBackend(setup.backend.name, spec.training.precision);
    } catch (error) {
      throw failSetup(`the compiled WebGPU step did not start: ${messageOf(error)}`, state);
    }
  }
  const backend: BackendReport = {
    ...setup.backend,
    precision: precisionReport(spec.training.precision, setup.backend.name, compiled, workers, tfjsOnly),
  };
  emit(runStartedEvent(spec, plan, setup, state, backend));
  let pool: GradientPool | null = null;
  if (workers > 1) {
    try {
      pool = await GradientPool.start(workers - 1, setup.config, setup.backend.name);
    } catch (error) {
      throw failSetup(`gradient threads did not start: ${messageOf(error)}`, state);
    }
  }
  const memoryGuard = memoryGuardFor(spec, arm, options.memoryLimitBytes);
  return { spec, options, setup, plan, state, pool, compiled, backend, emit, memoryGuard };
}

/**
 * What the run trains in. Mixed precision exists only on the compiled WebGPU step; anywhere else
 * a "mixed" spec trains in fp32 and the note says why (a spec naming a CPU backend with "mixed" is
 * refused at validation, so this covers `auto` landing on a CPU, threads, and switched-off steps).
 */
export function precisionReport(
  requested: Precision,
  backendName: string,
  compiled: CompiledSteps | null,
  workers: number,
  /** The model family that only the tfjs step trains (VOLO, ResNet), or null for a ViT. */
  tfjsOnly: string | null = null,
): PrecisionReport {
  if (compiled) {
    const report = compiled.report;
    const note =
      requested === "mixed" && report.precision === "fp32"
        ? "the adapter has no shader-f16, which f16 matmuls need: trained in fp32"
        : undefined;
    return {
      requested,
      used: requested === "mixed" ? report.precision : "fp32",
      matmuls: report.matmuls,
      deviceFeatures: report.deviceFeatures,
      ...(note ? { note } : {}),
    };
  }
  const why =
    backendName !== "webgpu"
      ? `the ${backendName} backend has no mixed-precision step`
      : tfjsOnly
        ? `${tfjsOnly} trains with the tfjs step (the compiled step is ViT-only)`
        : workers > 1
          ? "data-parallel threads (AUTOPROG_WORKERS > 1) train with the tfjs step"
          : "the compiled WebGPU step is switched off (AUTOPROG_COMPILED_STEP=0)";
  return {
    requested,
    used: "fp32",
    matmuls: "tfjs",
    deviceFeatures: [],
    ...(requested === "mixed" ? { note: `${why}: trained in fp32` } : {}),
  };
}

function findArm(spec: ExperimentSpec, label: string | undefined): ArmSpec | undefined {
  const wanted = label ?? armLabel(spec.arms[0] ?? { arm: "" });
  return spec.arms.find((a) => armLabel(a) === wanted);
}

/**
 * Resumes from the store's latest checkpoint when it belongs to this run (or starts a fork: one
 * copied from its parent), else starts fresh.
 */
async function restoreOrCreateState(
  spec: ExperimentSpec,
  plan: RunPlan,
  setup: Setup,
  checkpoints: CheckpointStore | null,
): Promise<ModelState> {
  const t = spec.training;
  const checkpoint = checkpoints ? await checkpoints.loadLatest() : null;
  // A spec's `init`: the run starts fresh from another run's weights (epoch 0's copy of its checkpoint).
  const init = checkpoint?.meta.specHash.startsWith(INIT_SPEC_HASH_PREFIX) ? checkpoint : null;
  if (checkpoint && !init) {
    const { meta } = checkpoint;
    const forkStart = meta.specHash === FORK_START_SPEC_HASH;
    if (
      !forkStart &&
      (meta.specHash !== plan.specHash || meta.arm !== plan.label || meta.seed !== plan.seed)
    ) {
      throw new Error("the checkpoint belongs to another spec, arm or seed");
    }
    return restoreModelState(setup.config, checkpoint, t.weightDecay);
  }
  const first = initialArchitecture(plan);
  return createModelState(setup.config, first.depth, first.side, {
    seed: plan.seed,
    ...(init
      ? {
          initial: initialWeightsOf(
            init,
            init.meta.specHash.slice(INIT_SPEC_HASH_PREFIX.length),
            setup.config,
          ),
        }
      : {}),
    ema: t.ema,
    stageSteps: plan.lrSchedule.totalSteps / t.stages,
    weightDecay: t.weightDecay,
  });
}

function runStartedEvent(
  spec: ExperimentSpec,
  plan: RunPlan,
  setup: Setup,
  state: ModelState,
  backend: BackendReport,
): TrainingEvent {
  const { config } = setup;
  return {
    type: "run.started",
    arm: plan.label,
    seed: plan.seed,
    backend,
    epochs: spec.training.epochs,
    stepsPerEpoch: plan.stepsPerEpoch,
    trainImages: setup.train.count,
    testImages: setup.test.count,
    parameters: parameterCount(config, config.depth),
    flopsFull: plan.flopsFull,
    startEpoch: state.epoch,
  };
}
