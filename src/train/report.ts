import type { BackendInfo } from "../backend/select.ts";
import { costEntries } from "../core/cost-table.ts";
import type { EpochRecord, EvaluationReport, RunResult, SideEvaluation } from "../core/events.ts";
import { parameterCount } from "../core/flops.ts";
import { tokenCount, type ViTConfig } from "../model/config.ts";
import type { EpochTotals } from "./epoch.ts";
import type { Score } from "./evaluate.ts";
import type { ModelState } from "./state.ts";

/** Online and EMA top-1 with the best of them (what the paper reports). */
export function evaluationReport(state: ModelState, scores: Record<string, Score>): EvaluationReport {
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
  return { online: scores.online?.top1 ?? 0, ema, best, bestSource };
}

export function epochRecord(
  state: ModelState,
  totals: EpochTotals,
  evaluation: EvaluationReport | null,
): EpochRecord {
  return {
    epoch: state.epoch,
    phase: totals.supernet ? "supernet" : "train",
    step: state.step,
    trainLoss: totals.loss,
    trainAccuracy: totals.accuracy,
    lr: totals.lastLr,
    batchSize: totals.batchSize,
    steps: totals.steps,
    imagesPerSecond: totals.images / Math.max(1e-9, totals.seconds),
    epochSeconds: totals.seconds,
    flopsPerImage: totals.flopsSum / Math.max(1, totals.images),
    architecture: {
      ...totals.architecture,
      tokens: tokenCount(state.config, totals.architecture.side),
    },
    evaluation,
    lossScale: state.lossScale?.scale ?? null,
    skippedSteps: totals.skippedSteps,
  };
}

export function summarise(
  run: { arm: string; seed: number; backend: BackendInfo; flopsFull: number },
  config: ViTConfig,
  state: ModelState,
  sideEvaluations: SideEvaluation[],
): RunResult {
  const last = state.history.at(-1);
  return {
    arm: run.arm,
    seed: run.seed,
    backend: run.backend,
    epochs: state.history.length,
    steps: state.step,
    top1: last?.evaluation?.best ?? 0,
    bestTop1: Math.max(0, ...state.history.map((h) => h.evaluation?.best ?? 0)),
    wallSeconds: state.wallSeconds,
    cpuSeconds: state.cpuSeconds,
    trainSeconds: state.trainSeconds,
    // Weighted by images, not steps: under batch scaling a small stage has fewer, larger steps.
    flopsPerStepMean: state.flopsSum / Math.max(1, imagesTrained(state)),
    flopsFull: run.flopsFull,
    parameters: parameterCount(config, config.depth),
    history: state.history,
    stages: state.stages,
    schedule: state.stages.map((s) => ({ depth: s.depth, side: s.side })),
    search: state.search,
    searchSeconds: state.searchSeconds,
    supernetSeconds: state.supernetSeconds,
    searchShare: state.wallSeconds > 0 ? state.searchSeconds / state.wallSeconds : 0,
    supernetShare: state.wallSeconds > 0 ? state.supernetSeconds / state.wallSeconds : 0,
    costTable: costEntries(state.costTable),
    sideEvaluations,
    lossScale: state.lossScale?.scale ?? null,
    skippedSteps: state.lossScale?.skippedSteps ?? 0,
  };
}

/** Images trained so far (every batch is full: the last partial one is dropped). */
function imagesTrained(state: ModelState): number {
  return state.history.reduce((sum, h) => sum + h.steps * h.batchSize, 0);
}
