import { lookupCost } from "../core/cost-table.ts";
import type { SearchRecord } from "../core/events.ts";
import {
  type Architecture,
  growthSpaceOptions,
  isLargestInSpace,
  sideList,
  stageSpace,
} from "../core/growth-space.ts";
import { createRandom, RANDOM_STREAMS } from "../core/random.ts";
import { decideSearch } from "../core/search-score.ts";
import type { ArmSpec, ExperimentSpec } from "../core/spec.ts";
import { supernetPhase } from "../core/supernet-phase.ts";
import type { AugmentOptions } from "../data/augment.ts";
import type { ImageDataset } from "../data/dataset.ts";
import { tokenCount } from "../model/config.ts";
import { modelDepthMap } from "../model/depth-map.ts";
import { calibrateCosts } from "./cost-calibration.ts";
import { candidateFlops, disposeSearchSubset, type SearchSubset } from "./search.ts";
import {
  architectureReport,
  growthReport,
  stageGrownEvent,
  stageHeader,
  stageRecord,
  stageSpan,
  stageStartedEvent,
} from "./stage-record.ts";
import { activeDepth, enterStage, type StageContext } from "./stages.ts";
import { growState, type ModelState } from "./state.ts";
import {
  candidateMask,
  createSupernet,
  largestCandidate,
  type SupernetState,
  sampleArchitecture,
  selectionMap,
  supernetDepth,
} from "./supernet.ts";

/**
 * AutoProg's per-stage search (autoprog-spec §5): grow an elastic supernet to the deepest
 * candidate, train it with sampled sub-networks, score every candidate on a fixed subset and
 * recycle the winner's weights. The `supernet` arm (Tab. VI control) trains the supernet of
 * Ω_0 for the whole run and ends with the full model.
 */
export type SearchArm = Extract<ArmSpec, { arm: "autoprog" } | { arm: "supernet" }>;

export interface SearchContext extends StageContext {
  readonly spec: ExperimentSpec;
  readonly arm: SearchArm;
  readonly train: ImageDataset;
  readonly augment: AugmentOptions;
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
}

const { architecture: ARCHITECTURE } = RANDOM_STREAMS;

export function isSearchArm(arm: ArmSpec): arm is SearchArm {
  return arm.arm === "autoprog" || arm.arm === "supernet";
}

function spaceOf(context: SearchContext, k: number, current: Architecture): Architecture[] {
  const options = growthSpaceOptions(context.spec, context.config, context.arm.initialRatio);
  const floor =
    context.arm.arm === "autoprog" && context.arm.search.sideFloor === "schedule" ? sideList(options)[k] : 0;
  return stageSpace(options, k, current, floor);
}

/** The architecture a search arm's model is created at: the largest of Ω_0. */
export function initialSearchArchitecture(context: SearchContext): Architecture {
  const space = spaceOf(context, 0, { depth: 0, side: 0 });
  return { depth: Math.max(...space.map((a) => a.depth)), side: Math.max(...space.map((a) => a.side)) };
}

/** False when stage k has nothing to search: the current sub-network is already the largest of Ω_k. */
export function stageSearches(state: ModelState, k: number, context: SearchContext): boolean {
  const current = { depth: activeDepth(state), side: state.side };
  return k === 0 || !isLargestInSpace(spaceOf(context, k, current), current);
}

/**
 * Opens stage k of a search arm. Returns false when there is nothing to search (the current
 * sub-network is already the largest of Ω_k): the stage then simply continues with it.
 */
export function beginSearchStage(state: ModelState, k: number, context: SearchContext): boolean {
  const current = { depth: activeDepth(state), side: state.side };
  if (!stageSearches(state, k, context)) {
    enterStage(state, k, context, current);
    return false;
  }
  const space = spaceOf(context, k, current);
  const span = stageSpan(context, k);
  const { stepsPerEpoch } = context;
  const phase = supernetPhase({
    stageStartStep: span.startEpoch * stepsPerEpoch,
    stageSteps: span.epochs * stepsPerEpoch,
    stepsPerEpoch,
    // The supernet arm is one supernet from start to end.
    supernetEpochs: context.arm.arm === "supernet" ? span.epochs : context.arm.supernetEpochs,
    fraction: context.arm.arm === "supernet" ? 1 : context.arm.supernetFraction,
    minSteps: context.arm.arm === "supernet" ? 1 : context.arm.supernetMinSteps,
  });
  const supernetEpochs = Math.ceil(phase.endStep / stepsPerEpoch) - span.startEpoch;
  const deepest = Math.max(...space.map((a) => a.depth));
  const base = k === 0 ? Math.min(...space.map((a) => a.depth)) : state.depth;
  if (k > 0) {
    growState(state, {
      map: modelDepthMap(context.config, base, deepest, "interpolation"),
      operator: context.operator ?? "mogrow",
      momentumEma: context.momentumEma,
      carryOptimizerState: context.carryOptimizerState,
      seed: context.seed,
    });
  }
  const supernet = createSupernet(
    k,
    space,
    base,
    { start: span.startEpoch, end: span.startEpoch + supernetEpochs },
    phase,
    context.config,
  );
  const largest = largestCandidate(supernet);
  state.supernet = supernet;
  state.side = largest.side;
  state.activeBlocks = candidateMask(supernet, largest.depth, context.config);
  state.stage = k;
  context.emit(stageStartedEvent(stageHeader(context.config, span, largest)));
  context.emit({
    type: "stage.search.started",
    stage: k,
    startEpoch: span.startEpoch,
    supernetEpochs,
    supernetSteps: phase.endStep - phase.startStep,
    candidates: space.map((a) => architectureReport(context.config, a)),
  });
  return true;
}

/**
 * Per-step architecture while the supernet trains: side and depth drawn independently, seeded
 * by (epoch, step in epoch); undefined once the phase is over (the model's own architecture).
 */
export function supernetSampler(state: ModelState, supernet: SupernetState, seed: number) {
  const epoch = state.epoch;
  return (step: number) => {
    if (state.supernet !== supernet || state.step >= supernet.endStep) return undefined;
    const a = sampleArchitecture(supernet, createRandom(seed, ARCHITECTURE, epoch, step));
    return { side: a.side, activeBlocks: candidateMask(supernet, a.depth, state.config) };
  };
}

/**
 * Scores the candidates, recycles the winner's weights (exactly the scored mask; the deepest
 * winner takes the momentum network's weights) and records the search. Under "regrow" it only
 * records: the supernet was a look-ahead copy (search-ahead.ts).
 */
export async function finishSearch(
  state: ModelState,
  context: SearchContext,
  subset: SearchSubset,
): Promise<void> {
  const supernet = state.supernet;
  if (!supernet || context.arm.arm !== "autoprog") throw new Error("no search to finish");
  const { search } = context.arm;
  const began = performance.now();
  const timingBatch = Math.min(context.batchSize, subset.size);
  const timedArchitectures =
    search.cost === "time"
      ? await calibrateCosts(state, {
          spec: context.spec,
          initialRatio: context.arm.initialRatio,
          candidates: supernet.space,
          subset,
          batch: timingBatch,
          timingRuns: search.timingRuns,
        })
      : 0;
  const measures = [];
  for (const [c, candidate] of supernet.space.entries()) {
    const cost =
      search.cost === "flops"
        ? candidateFlops(context.config, candidate)
        : lookupCost(state.costTable, candidate, timingBatch);
    const losses = supernet.losses[c] ?? [];
    const points = Math.max(1, losses.length);
    measures.push({
      depth: candidate.depth,
      side: candidate.side,
      tokens: tokenCount(context.config, candidate.side),
      loss: losses.reduce((a, b) => a + b, 0) / points,
      cost,
      imageLosses: (supernet.imageLosses[c] ?? []).map((sum) => sum / points),
    });
  }
  const scored = decideSearch(measures, search.selection, search.z, search.tolerance);
  const winner = supernet.space[scored.winner] as Architecture;
  const searchSeconds = supernet.searchSeconds + (performance.now() - began) / 1000;
  const record: SearchRecord = {
    stage: supernet.stage,
    candidates: scored.candidates,
    a1: scored.a1,
    w: scored.w,
    cost: search.cost,
    selection: scored.selection,
    z: scored.z,
    tolerance: scored.tolerance,
    sideFloor: search.sideFloor,
    winnerWeights: search.winnerWeights,
    timedArchitectures,
    winner,
    searchSeconds,
    supernetEpochs: supernet.endEpoch - supernet.startEpoch,
    supernetSteps: supernet.endStep - supernet.startStep,
  };
  state.search.push(record);
  state.searchSeconds += searchSeconds;
  context.emit({ type: "stage.search.completed", ...record });
  if (search.winnerWeights === "regrow") {
    // A look-ahead's supernet is a copy: the caller grows the winner on the run's own model.
    state.supernet = null;
    return;
  }
  recycle(state, context, supernet, winner);
}

function recycle(
  state: ModelState,
  context: SearchContext,
  supernet: SupernetState,
  winner: Architecture,
): void {
  const deepest = supernetDepth(supernet);
  const before = {
    depth: supernet.baseDepth,
    side: state.stages.at(-1)?.side ?? largestCandidate(supernet).side,
  };
  growState(state, {
    map: selectionMap(candidateMask(supernet, winner.depth, context.config)),
    // The deepest winner is the whole supernet: its weights come from the momentum network.
    operator: winner.depth === deepest ? "mogrow" : "interpolation",
    momentumEma: context.momentumEma,
    carryOptimizerState: context.carryOptimizerState,
    seed: context.seed,
  });
  state.side = winner.side;
  state.supernet = null;
  const growth = growthReport(context.config, {
    from: before,
    to: winner,
    operator: "autoprog",
    secondsSoFar: state.wallSeconds,
  });
  state.stages.push(stageRecord(context.config, stageSpan(context, supernet.stage), winner, growth));
  context.emit(stageGrownEvent(supernet.stage, growth));
}

/** The supernet arm ends as the full model (the largest candidate of Ω_0). */
export function finishSupernetArm(state: ModelState, context: SearchContext): void {
  const supernet = state.supernet;
  if (!supernet) return;
  const largest = largestCandidate(supernet);
  state.activeBlocks = candidateMask(supernet, largest.depth, context.config);
  state.side = largest.side;
  state.supernet = null;
  // The supernet arm has one stage, trained as a supernet from start to end.
  state.stages.push(stageRecord(context.config, stageSpan(context, supernet.stage), largest, null));
}

export { disposeSearchSubset };
