import type { RunResult, SideEvaluation } from "../core/events.ts";
import { isOutOfMemory } from "../core/out-of-memory.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import type { ImageDataset } from "../data/dataset.ts";
import { EpochPaused, RunInterrupted, type StepProgress } from "./epoch.ts";
import { evaluate } from "./evaluate.ts";
import { saveModel } from "./model-file.ts";
import { evaluationReport, summarise } from "./report.ts";
import {
  failRun,
  messageOf,
  openRun,
  type RunContext,
  TrainingFailure,
  TrainingPaused,
} from "./run-context.ts";
import { evaluationTargets, trainRemainingEpochs } from "./run-loop.ts";
import type { RunOptions } from "./run-options.ts";
import { disposeModelState, type ModelState } from "./state.ts";

export type { RunOptions, StepProgress };
export { TrainingFailure, TrainingPaused };

/** Trains one arm of a spec with one seed and emits the typed event stream. */
export async function runTraining(spec: ExperimentSpec, options: RunOptions = {}): Promise<RunResult> {
  const run = await openRun(spec, options);
  let sideEvaluations: SideEvaluation[];
  try {
    await trainRemainingEpochs(run);
    const t = spec.training;
    sideEvaluations = await evaluateSides(run.state, run.setup.test, t.evalSides, t.evalBatchSize);
    await saveFinalModel(run);
  } catch (error) {
    await run.pool?.close();
    run.compiled?.dispose();
    if (error instanceof EpochPaused) {
      const { epoch, step } = run.state;
      disposeModelState(run.state);
      throw new TrainingPaused(epoch, step);
    }
    if (error instanceof RunInterrupted) throw failRun(run.emit, run.state, error.reason, error.message);
    const message = messageOf(error);
    const reason = isOutOfMemory({ message }) ? "out_of_memory" : "error";
    throw failRun(run.emit, run.state, reason, message);
  }
  await run.pool?.close();
  run.compiled?.dispose();
  return completeRun(run, sideEvaluations);
}

/** Final top-1 at every evaluation side; the trained side's is the last epoch's. */
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

/** Saves the best of the online weights and the EMAs at the last evaluation, when asked to. */
async function saveFinalModel({ options, state }: RunContext): Promise<void> {
  if (!options.modelPath) return;
  const best = state.history.at(-1)?.evaluation?.bestSource ?? "online";
  const weights = state.emas.find((e) => e.name === best)?.weights ?? state.weights;
  await saveModel(options.modelPath, state.config, state.depth, weights);
}

function completeRun(
  { plan, setup, state, emit, backend }: RunContext,
  sideEvaluations: SideEvaluation[],
): RunResult {
  const run = { arm: plan.label, seed: plan.seed, backend, flopsFull: plan.flopsFull };
  const result = summarise(run, setup.config, state, sideEvaluations);
  disposeModelState(state);
  emit({ type: "run.completed", result });
  return result;
}
