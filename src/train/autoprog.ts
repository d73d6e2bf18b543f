import { lookupCost } from "../core/cost-table.ts";
import type { SearchRecord } from "../core/events.ts";
import { type Architecture, growthSpaceOptions, isLargestInSpace, stageSpace } from "../core/growth-space.ts";
import { createRandom, RANDOM_STREAMS, streamSeed } from "../core/random.ts";
import { decideSearch } from "../core/search-score.ts";
import type { ArmSpec, ExperimentSpec } from "../core/spec.ts";
import type { AugmentOptions } from "../data/augment.ts";
import { makeBatch } from "../data/batch.ts";
import { epochOrder } from "../data/batches.ts";
import type { ImageDataset } from "../data/dataset.ts";
import { tokenCount } from "../model/config.ts";
import { interpolationMap } from "../model/depth-map.ts";
import { calibrateCosts } from "./cost-calibration.ts";
import {
  candidateFlops,
  candidateImageLosses,
  createSearchSubset,
  disposeSearchSubset,
  type SearchSubset,
} from "./search.ts";
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

const { architecture: ARCHITECTURE, searchSubset: SEARCH_SUBSET } = RANDOM_STREAMS;
const MEASUREMENT_POINTS = [0, 0.25, 0.5, 0.75, 1] as const;

export function isSearchArm(arm: ArmSpec): arm is SearchArm {
  return arm.arm === "autoprog" || arm.arm === "supernet";
}

function spaceOf(context: SearchContext, k: number, current: Architecture): Architecture[] {
  const options = growthSpaceOptions(context.spec, context.config, context.arm.initialRatio);
  return stageSpace(options, k, current);
}

/** The architecture a search arm's model is created at: the largest of Ω_0. */
export function initialSearchArchitecture(context: SearchContext): Architecture {
  const space = spaceOf(context, 0, { depth: 0, side: 0 });
  return { depth: Math.max(...space.map((a) => a.depth)), side: Math.max(...space.map((a) => a.side)) };
}

/**
 * Opens stage k of a search arm. Returns false when there is nothing to search (the current
 * sub-network is already the largest of Ω_k): the stage then simply continues with it.
 */
export function beginSearchStage(state: ModelState, k: number, context: SearchContext): boolean {
  const current = { depth: activeDepth(state), side: state.side };
  const space = spaceOf(context, k, current);
  if (k > 0 && isLargestInSpace(space, current)) {
    enterStage(state, k, context, current);
    return false;
  }
  const span = stageSpan(context, k);
  const supernetEpochs = context.arm.arm === "supernet" ? span.epochs : context.arm.supernetEpochs;
  const deepest = Math.max(...space.map((a) => a.depth));
  const base = k === 0 ? Math.min(...space.map((a) => a.depth)) : state.depth;
  if (k > 0) {
    growState(state, {
      map: interpolationMap(base, deepest),
      operator: context.operator ?? "mogrow",
      momentumEma: context.momentumEma,
      carryOptimizerState: context.carryOptimizerState,
      seed: context.seed,
    });
  }
  const supernet = createSupernet(k, space, base, {
    start: span.startEpoch,
    end: span.startEpoch + supernetEpochs,
  });
  const largest = largestCandidate(supernet);
  state.supernet = supernet;
  state.side = largest.side;
  state.activeBlocks = candidateMask(supernet, largest.depth);
  state.stage = k;
  context.emit(stageStartedEvent(stageHeader(context.config, span, largest)));
  context.emit({
    type: "stage.search.started",
    stage: k,
    startEpoch: span.startEpoch,
    supernetEpochs,
    candidates: space.map((a) => architectureReport(context.config, a)),
  });
  return true;
}

/** Per-step architecture of a supernet epoch: side and depth drawn independently, seeded. */
export function supernetSampler(supernet: SupernetState, seed: number, epoch: number) {
  return (step: number) => {
    const a = sampleArchitecture(supernet, createRandom(seed, ARCHITECTURE, epoch, step));
    return { side: a.side, activeBlocks: candidateMask(supernet, a.depth) };
  };
}

/** True for the epoch whose five measurement points score the candidates (autoprog only). */
export function isScoringEpoch(state: ModelState, context: SearchContext): boolean {
  return (
    context.arm.arm === "autoprog" && state.supernet !== null && state.epoch + 1 === state.supernet.endEpoch
  );
}

/** The fixed search subset of a stage: the same augmented images for every candidate and point. */
export function buildSearchSubset(state: ModelState, context: SearchContext): SearchSubset {
  if (context.arm.arm !== "autoprog") throw new Error("only autoprog scores candidates");
  const size = Math.min(context.arm.search.subsetSize, context.train.count);
  const order = epochOrder(context.train.count, streamSeed(context.seed, "searchSubset"), state.stage);
  const batch = makeBatch(context.train, order.subarray(0, size), {
    side: context.config.imageSize,
    augment: context.augment,
    random: createRandom(context.seed, SEARCH_SUBSET, state.stage),
  });
  return createSearchSubset(batch);
}

/** Steps before which the loss of every candidate is measured: start, ¼, ½, ¾, end. */
export function measurementSteps(stepsPerEpoch: number): Set<number> {
  return new Set(MEASUREMENT_POINTS.map((f) => Math.round(f * stepsPerEpoch)));
}

export async function measureLosses(
  state: ModelState,
  context: SearchContext,
  subset: SearchSubset,
): Promise<void> {
  const supernet = state.supernet;
  if (!supernet || context.arm.arm !== "autoprog") return;
  const emaName = context.arm.search.ema;
  const ema = state.emas.find((e) => e.name === emaName);
  if (!ema) throw new Error(`no EMA named ${emaName} to score candidates with`);
  for (const [c, candidate] of supernet.space.entries()) {
    const losses = await candidateImageLosses(
      context.config,
      ema.weights,
      subset,
      { side: candidate.side, activeBlocks: candidateMask(supernet, candidate.depth) },
      context.spec.training.evalBatchSize,
    );
    supernet.losses[c]?.push(losses.reduce((a, b) => a + b, 0) / losses.length);
    const sums = supernet.imageLosses[c] ?? [];
    supernet.imageLosses[c] = Array.from(losses, (loss, i) => (sums[i] ?? 0) + loss);
  }
}

/**
 * Scores the candidates, recycles the winner's weights (exactly the scored mask; the deepest
 * winner takes the momentum network's weights) and records the search.
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
  const scored = decideSearch(measures, search.selection, search.z);
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
    timedArchitectures,
    winner,
    searchSeconds,
    supernetEpochs: supernet.endEpoch - supernet.startEpoch,
  };
  state.search.push(record);
  state.searchSeconds += searchSeconds;
  context.emit({ type: "stage.search.completed", ...record });
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
    map: selectionMap(candidateMask(supernet, winner.depth)),
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
  state.activeBlocks = candidateMask(supernet, largest.depth);
  state.side = largest.side;
  state.supernet = null;
  // The supernet arm has one stage, trained as a supernet from start to end.
  state.stages.push(stageRecord(context.config, stageSpan(context, supernet.stage), largest, null));
}

export { disposeSearchSubset };
