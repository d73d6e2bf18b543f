import type { FailureReason, RunResult, SideEvaluation, TrainingEvent } from "../core/events.ts";
import { forwardFlops, parameterCount } from "../core/flops.ts";
import type { LrSchedule } from "../core/lr.ts";
import { armOperator, armStages, stageIndexAt } from "../core/schedule.ts";
import { armLabel, type ExperimentSpec } from "../core/spec.ts";
import { type AugmentOptions, DEFAULT_AUGMENT } from "../data/augment.ts";
import type { ImageDataset } from "../data/dataset.ts";
import {
  beginSearchStage,
  buildSearchSubset,
  disposeSearchSubset,
  finishSearch,
  finishSupernetArm,
  initialSearchArchitecture,
  isScoringEpoch,
  isSearchArm,
  measureLosses,
  measurementSteps,
  supernetSampler,
} from "./autoprog.ts";
import { type CheckpointStore, specHash } from "./checkpoint.ts";
import { RunInterrupted, type StepProgress, trainEpoch } from "./epoch.ts";
import { evaluate } from "./evaluate.ts";
import { saveModel } from "./model-file.ts";
import { GradientPool } from "./parallel/pool.ts";
import { backendReport, epochRecord, evaluationReport, summarise } from "./report.ts";
import type { SearchSubset } from "./search.ts";
import { prepare, type Setup } from "./setup.ts";
import { enterStage, regularisationScale } from "./stages.ts";
import {
  createModelState,
  disposeModelState,
  type ModelState,
  restoreModelState,
  saveModelState,
} from "./state.ts";

export type { StepProgress };

export interface RunOptions {
  /** Which arm of the spec to run, by label (default: the first). */
  readonly arm?: string;
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
  /**
   * Threads that share each step (data parallel); default AUTOPROG_WORKERS or 1. Results are
   * deterministic for a given count but not bit-identical across counts.
   */
  readonly workers?: number;
  /** Save the final model (the best of the online weights and the EMAs) to `<path>.json/.bin`. */
  readonly modelPath?: string;
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

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Trains one arm of a spec with one seed and emits the typed event stream. */
export async function runTraining(spec: ExperimentSpec, options: RunOptions = {}): Promise<RunResult> {
  const arm = spec.arms.find((a) => armLabel(a) === (options.arm ?? armLabel(spec.arms[0] ?? { arm: "" })));
  const seed = options.seed ?? spec.seeds[0] ?? 0;
  const emit = options.onEvent ?? (() => {});
  let state: ModelState | null = null;
  const fail = (reason: FailureReason, message: string): TrainingFailure => {
    emit({ type: "run.failed", reason, message, epoch: state?.epoch ?? null, step: state?.step ?? null });
    if (state) disposeModelState(state);
    return new TrainingFailure(reason, message);
  };
  if (!arm) throw fail("failed_setup", `the spec has no arm ${options.arm}`);
  const label = armLabel(arm);

  let setup: Setup;
  try {
    setup = await prepare(spec, options);
  } catch (error) {
    throw fail("failed_setup", messageOf(error));
  }
  const { backend, train, test, config } = setup;
  const t = spec.training;
  const batchSize = Math.min(t.batchSize, train.count);
  const stepsPerEpoch = Math.floor(train.count / batchSize);
  const lrSchedule: LrSchedule = {
    peak: t.lr,
    floor: t.minLr,
    warmupSteps: Math.round(t.warmupEpochs * stepsPerEpoch),
    totalSteps: stepsPerEpoch * t.epochs,
  };
  const stages = armStages(spec, arm, config);
  const stageContext = {
    config,
    stages,
    epochs: t.epochs,
    operator: armOperator(arm),
    momentumEma: t.momentumEma,
    carryOptimizerState: "carryOptimizerState" in arm && arm.carryOptimizerState,
    seed,
    emit,
  };
  const adaptive = "adaptiveRegularization" in arm && arm.adaptiveRegularization;
  const baseAugment: AugmentOptions = { ...DEFAULT_AUGMENT[spec.dataset.name], ...definedOnly(t.augment) };
  const searchContext = isSearchArm(arm)
    ? { ...stageContext, spec, arm, train, augment: baseAugment, batchSize, stepsPerEpoch }
    : null;
  const hash = specHash(spec);
  const flopsFull = forwardFlops(config, config.depth, config.imageSize);

  try {
    const checkpoint = options.checkpoints ? await options.checkpoints.loadLatest() : null;
    if (checkpoint) {
      if (
        checkpoint.meta.specHash !== hash ||
        checkpoint.meta.arm !== label ||
        checkpoint.meta.seed !== seed
      ) {
        throw new Error("the checkpoint belongs to another spec, arm or seed");
      }
      state = restoreModelState(config, checkpoint, t.weightDecay);
    } else {
      const first =
        stages[0]?.architecture ??
        (searchContext
          ? initialSearchArchitecture(searchContext)
          : { depth: config.depth, side: config.imageSize });
      state = createModelState(config, first.depth, first.side, {
        seed,
        ema: t.ema,
        stageSteps: lrSchedule.totalSteps / t.stages,
        weightDecay: t.weightDecay,
      });
    }
  } catch (error) {
    throw fail("failed_setup", messageOf(error));
  }

  emit({
    type: "run.started",
    arm: label,
    seed,
    backend: backendReport(backend),
    epochs: t.epochs,
    stepsPerEpoch,
    trainImages: train.count,
    testImages: test.count,
    parameters: parameterCount(config, config.depth),
    flopsFull,
    startEpoch: state.epoch,
  });

  const workers = options.workers ?? Number(process.env.AUTOPROG_WORKERS ?? 1);
  let pool: GradientPool | null = null;
  if (workers > 1) {
    try {
      pool = await GradientPool.start(workers - 1, config, backend.name);
    } catch (error) {
      throw fail("failed_setup", `gradient threads did not start: ${messageOf(error)}`);
    }
  }

  let sideEvaluations: SideEvaluation[];
  let subset: SearchSubset | null = null;
  try {
    while (state.epoch < t.epochs) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      const k = stageIndexAt(stages, state.epoch);
      if (k !== state.stage) {
        if (searchContext && !stages[k]?.architecture) beginSearchStage(state, k, searchContext);
        else enterStage(state, k, stageContext);
      }
      const supernet = state.supernet;
      // Supernet epochs use the final-stage regularisation (autoprog-spec §5.3).
      const scale = supernet ? 1 : regularisationScale(k, stages.length, adaptive);
      const scoring = searchContext && isScoringEpoch(state, searchContext);
      subset = scoring && searchContext ? buildSearchSubset(state, searchContext) : null;
      const measuredSubset = subset;
      const totals = await trainEpoch(state, {
        train,
        seed,
        batchSize,
        epochs: t.epochs,
        lrSchedule,
        labelSmoothing: t.labelSmoothing,
        gradClipNorm: t.gradClipNorm,
        dropPath: t.dropPath * scale,
        augment: { ...baseAugment, randomErasing: baseAugment.randomErasing * scale },
        signal: options.signal,
        onProgress: options.onProgress,
        pool,
        sample: supernet ? supernetSampler(supernet, seed, state.epoch) : undefined,
        measure:
          measuredSubset && searchContext
            ? {
                steps: measurementSteps(stepsPerEpoch),
                run: () => measureLosses(state as ModelState, searchContext, measuredSubset),
              }
            : undefined,
      });
      if (supernet) {
        state.supernetSeconds += totals.seconds;
        supernet.searchSeconds += totals.measureSeconds;
      }
      if (searchContext && supernet && state.epoch + 1 === supernet.endEpoch) {
        if (measuredSubset) await finishSearch(state, searchContext, measuredSubset);
        else finishSupernetArm(state, searchContext);
      }
      if (subset) disposeSearchSubset(subset);
      subset = null;
      // The last epoch is always evaluated: the result's top-1 is that of the final model.
      const evaluated = (state.epoch + 1) % t.evalEvery === 0 || state.epoch + 1 === t.epochs;
      const scores = evaluated
        ? await evaluate(config, evaluationTargets(state), test, {
            side: state.side,
            activeBlocks: state.activeBlocks,
            batchSize: t.evalBatchSize,
          })
        : null;
      const record = epochRecord(state, totals, scores && evaluationReport(state, scores));
      state.history.push(record);
      state.flopsSum += totals.flopsSum;
      state.trainSeconds += totals.seconds;
      state.epoch += 1;
      state.wallSeconds += (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuStarted);
      state.cpuSeconds += (cpu.user + cpu.system) / 1e6;
      emit({ type: "epoch.completed", ...record });
      if (options.checkpoints) {
        const location = await saveModelState(options.checkpoints, state, {
          arm: label,
          seed,
          specHash: hash,
        });
        emit({ type: "checkpoint.saved", epoch: state.epoch, step: state.step, location });
      }
    }
    sideEvaluations = await evaluateSides(state, test, t.evalSides, t.evalBatchSize);
    if (options.modelPath) {
      const best = state.history.at(-1)?.evaluation?.bestSource ?? "online";
      const weights = state.emas.find((e) => e.name === best)?.weights ?? state.weights;
      await saveModel(options.modelPath, config, state.depth, weights);
    }
  } catch (error) {
    if (subset) disposeSearchSubset(subset);
    await pool?.close();
    if (error instanceof RunInterrupted) throw fail(error.reason, error.message);
    throw fail("error", messageOf(error));
  }

  await pool?.close();
  const result = summarise({ arm: label, seed, backend, flopsFull }, config, state, sideEvaluations);
  disposeModelState(state);
  emit({ type: "run.completed", result });
  return result;
}

function evaluationTargets(state: ModelState) {
  return [
    { name: "online", weights: state.weights },
    ...state.emas.map((e) => ({ name: e.name, weights: e.weights })),
  ];
}

async function evaluateSides(
  state: ModelState,
  test: ImageDataset,
  sides: readonly number[],
  batchSize: number,
): Promise<SideEvaluation[]> {
  // The trained side was just evaluated at the end of the last epoch.
  const last = state.history.at(-1)?.evaluation;
  const evaluations: SideEvaluation[] = last
    ? [{ side: state.side, online: last.online, ema: last.ema, best: last.best }]
    : [];
  for (const side of [...new Set(sides)].filter((s) => s !== state.side)) {
    const scores = await evaluate(state.config, evaluationTargets(state), test, {
      side,
      activeBlocks: state.activeBlocks,
      batchSize,
    });
    const report = evaluationReport(state, scores);
    evaluations.push({ side, online: report.online, ema: report.ema, best: report.best });
  }
  return evaluations;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
