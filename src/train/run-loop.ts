import { lrScale, stageBatchSize, stageStepsAtBatch } from "../core/batch-scaling.ts";
import type { EvaluationReport } from "../core/events.ts";
import { forwardFlops } from "../core/flops.ts";
import { stageIndexAt } from "../core/schedule.ts";
import { beginSearchStage, disposeSearchSubset, finishSupernetArm, supernetSampler } from "./autoprog.ts";
import { decayForHorizon } from "./ema.ts";
import { EpochPaused, type EpochSettings, type EpochTotals, trainEpoch } from "./epoch.ts";
import { evaluate } from "./evaluate.ts";
import { epochRecord, evaluationReport } from "./report.ts";
import type { RunContext } from "./run-context.ts";
import type { SearchSubset } from "./search.ts";
import { searchAhead } from "./search-ahead.ts";
import { buildSearchSubset, epochMeasurementSteps, searchPoint } from "./search-points.ts";
import { activeDepth, enterStage, randAugmentScale, regularisationScale } from "./stages.ts";
import { type ModelState, saveModelState } from "./state.ts";

/** The epoch loop: trains from the state's epoch to the spec's last, one checkpoint per epoch. */
export async function trainRemainingEpochs(run: RunContext): Promise<void> {
  while (run.state.epoch < run.spec.training.epochs) await runEpoch(run);
}

async function runEpoch(run: RunContext): Promise<void> {
  const clock = startClock();
  await enterScheduledStage(run);
  let totals: EpochTotals;
  try {
    totals = await trainStageEpoch(run);
  } catch (error) {
    if (error instanceof EpochPaused) await checkpointPausedEpoch(run, error, clock());
    throw error;
  }
  const evaluation = await evaluateIfDue(run);
  completeEpoch(run, totals, evaluation, clock());
  await saveCheckpoint(run);
}

/**
 * A pause cut the epoch: the checkpoint written now holds its position and running sums (and
 * the clocks of its part trained so far), so a run opened on it finishes the epoch exactly.
 */
async function checkpointPausedEpoch(run: RunContext, paused: EpochPaused, elapsed: Elapsed): Promise<void> {
  const before = run.state.epochProgress;
  run.state.epochProgress = {
    ...paused.position,
    wallSeconds: (before?.wallSeconds ?? 0) + elapsed.wallSeconds,
    cpuSeconds: (before?.cpuSeconds ?? 0) + elapsed.cpuSeconds,
  };
  await saveCheckpoint(run);
}

/**
 * Opens the stage the epoch belongs to when the schedule moves on; a searched one opens a
 * supernet, or under `winnerWeights: "regrow"` searches on a copy first and grows the winner.
 */
async function enterScheduledStage(run: RunContext): Promise<void> {
  const { state, plan } = run;
  const k = stageIndexAt(plan.stages, state.epoch);
  if (k === state.stage) return;
  const search = plan.searchContext;
  if (!search || plan.stages[k]?.architecture) enterStage(state, k, plan.stageContext);
  else if (search.arm.arm === "autoprog" && search.arm.search.winnerWeights === "regrow")
    await searchAhead(run, k, trainStageEpoch);
  else beginSearchStage(state, k, search);
}

/**
 * Trains one epoch. While a supernet trains, each step samples a sub-network; at the points of
 * the scoring window every candidate is measured on a fixed subset, and at the phase's end (which
 * may fall inside the epoch) the winner is recycled and the rest of the epoch trains it.
 */
async function trainStageEpoch(run: RunContext, stepLimit?: number): Promise<EpochTotals> {
  const { state } = run;
  const search = run.plan.searchContext;
  const supernet = state.supernet;
  const points = search ? epochMeasurementSteps(state, search) : [];
  const subset = search && points.length > 0 ? buildSearchSubset(state, search) : null;
  try {
    const totals = await trainEpoch(state, { ...epochSettings(run, subset, points), stepLimit });
    state.supernetSeconds += totals.supernetSeconds;
    if (search && supernet && state.supernet === supernet && state.step === supernet.endStep) {
      // Only the supernet arm gets here: an autoprog search finished at its last point.
      finishSupernetArm(state, search);
    }
    return totals;
  } finally {
    if (subset) disposeSearchSubset(subset);
  }
}

function epochSettings(
  run: RunContext,
  subset: SearchSubset | null,
  points: readonly number[],
): EpochSettings {
  const { state, plan, options } = run;
  const t = run.spec.training;
  const supernet = state.supernet;
  const search = plan.searchContext;
  // Supernet epochs use the final-stage regularisation (autoprog-spec §5.3).
  const scale = supernet ? 1 : regularisationScale(state.stage, plan.stages.length, plan.adaptive);
  const batchSize = epochBatchSize(run);
  if (plan.batchScaling) alignEmaHorizons(run, batchSize);
  return {
    train: run.setup.train,
    seed: plan.seed,
    batchSize,
    epochs: t.epochs,
    lrSchedule: plan.lrSchedule,
    baseStepsPerEpoch: plan.stepsPerEpoch,
    lrScale: plan.batchScaling ? lrScale(plan.batchScaling.lrScaling, batchSize, plan.batchSize) : 1,
    labelSmoothing: t.labelSmoothing,
    gradClipNorm: t.gradClipNorm,
    dropPath: t.dropPath * scale,
    augment: {
      ...plan.baseAugment,
      randomErasing: plan.baseAugment.randomErasing * scale,
      randAugmentScale: randAugmentScale(scale),
    },
    signal: options.signal,
    betweenSteps: options.betweenSteps,
    pause: options.pause,
    resume: state.epochProgress,
    onProgress: options.onProgress,
    pool: run.pool,
    compiled: run.compiled,
    sample: supernet ? supernetSampler(state, supernet, plan.seed) : undefined,
    measure:
      subset && search
        ? { steps: new Set(points), run: () => searchPoint(state, search, subset) }
        : undefined,
    memoryGuard: run.memoryGuard,
  };
}

/**
 * The epoch's batch: the stage's under batch scaling (a pure function of the architecture, so a
 * resumed run picks the same one); supernet epochs, whose steps sample sub-networks, keep the
 * base batch.
 */
function epochBatchSize({ state, plan, setup }: RunContext): number {
  if (!plan.batchScaling || state.supernet) return plan.batchSize;
  const input = {
    baseBatch: plan.batchSize,
    flopsPerImage: forwardFlops(state.config, activeDepth(state), state.side),
    flopsFull: plan.flopsFull,
    trainImages: setup.train.count,
  };
  return stageBatchSize(input, plan.batchScaling);
}

/** EMA horizons stay the same in images: a stage with fewer, larger steps averages over fewer steps. */
function alignEmaHorizons({ state, plan, spec }: RunContext, batchSize: number): void {
  const t = spec.training;
  const baseStageSteps = plan.lrSchedule.totalSteps / t.stages;
  const stageSteps = stageStepsAtBatch(baseStageSteps, batchSize, plan.batchSize);
  for (const ema of state.emas) {
    const horizon = t.ema.find((e) => e.name === ema.name)?.horizon;
    if (horizon !== undefined) ema.decay = decayForHorizon(horizon, stageSteps);
  }
}

/** Every `evalEvery` epochs, and always the last: the result's top-1 is that of the final model. */
async function evaluateIfDue({ spec, setup, state }: RunContext): Promise<EvaluationReport | null> {
  const t = spec.training;
  const due = (state.epoch + 1) % t.evalEvery === 0 || state.epoch + 1 === t.epochs;
  if (!due) return null;
  const scores = await evaluate(state.config, evaluationTargets(state), setup.test, {
    side: state.side,
    activeBlocks: state.activeBlocks,
    batchSize: t.evalBatchSize,
  });
  return evaluationReport(state, scores);
}

/** The online weights and every EMA copy, by name: what an evaluation scores. */
export function evaluationTargets(state: ModelState) {
  return [
    { name: "online", weights: state.weights },
    ...state.emas.map((e) => ({ name: e.name, weights: e.weights })),
  ];
}

/** Records the epoch, advances the run's counters and clocks, and emits epoch.completed. */
function completeEpoch(
  { state, emit }: RunContext,
  totals: EpochTotals,
  evaluation: EvaluationReport | null,
  elapsed: Elapsed,
): void {
  const record = epochRecord(state, totals, evaluation);
  state.history.push(record);
  state.flopsSum += totals.flopsSum;
  state.trainSeconds += totals.seconds;
  state.epoch += 1;
  // A paused epoch's first part is on the clocks too.
  state.wallSeconds += elapsed.wallSeconds + (state.epochProgress?.wallSeconds ?? 0);
  state.cpuSeconds += elapsed.cpuSeconds + (state.epochProgress?.cpuSeconds ?? 0);
  state.epochProgress = null;
  emit({ type: "epoch.completed", ...record });
}

async function saveCheckpoint({ options, state, plan, emit }: RunContext): Promise<void> {
  if (!options.checkpoints) return;
  const location = await saveModelState(options.checkpoints, state, {
    arm: plan.label,
    seed: plan.seed,
    specHash: plan.specHash,
  });
  emit({ type: "checkpoint.saved", epoch: state.epoch, step: state.step, location });
}

interface Elapsed {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
}

/** Wall and process CPU time since the call, read when the returned function is called. */
function startClock(): () => Elapsed {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  return () => {
    const wallSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    return { wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
}
