import { createRandom, RANDOM_STREAMS, streamSeed } from "../core/random.ts";
import { epochPoints, measurementPoints } from "../core/supernet-phase.ts";
import { makeBatch } from "../data/batch.ts";
import { epochOrder } from "../data/batches.ts";
import { finishSearch, type SearchContext } from "./autoprog.ts";
import { candidateImageLosses, createSearchSubset, type SearchSubset } from "./search.ts";
import type { ModelState } from "./state.ts";
import { candidateMask } from "./supernet.ts";

/**
 * The measurement side of AutoProg's search: which steps of an epoch measure the candidates,
 * the fixed search subset, the per-image loss passes, and the hook that ends the supernet phase.
 */

const { searchSubset: SEARCH_SUBSET } = RANDOM_STREAMS;

/** The epoch's measurement points, as steps of the epoch (autoprog only; empty when none fall in it). */
export function epochMeasurementSteps(state: ModelState, context: SearchContext): number[] {
  const supernet = state.supernet;
  if (context.arm.arm !== "autoprog" || !supernet) return [];
  const points = measurementPoints(supernet, context.arm.search.points);
  return epochPoints(points, state.step, context.stepsPerEpoch, supernet.endStep);
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
  const began = performance.now();
  for (const [c, candidate] of supernet.space.entries()) {
    const losses = await candidateImageLosses(
      context.config,
      ema.weights,
      subset,
      { side: candidate.side, activeBlocks: candidateMask(supernet, candidate.depth, context.config) },
      context.spec.training.evalBatchSize,
    );
    supernet.losses[c]?.push(losses.reduce((a, b) => a + b, 0) / losses.length);
    const sums = supernet.imageLosses[c] ?? [];
    supernet.imageLosses[c] = Array.from(losses, (loss, i) => (sums[i] ?? 0) + loss);
  }
  supernet.searchSeconds += (performance.now() - began) / 1000;
}

/**
 * The hook at a measurement point (before the step `state.step`): measure every candidate, and
 * at the phase's end score them and recycle the winner, so the rest of the epoch trains it.
 */
export async function searchPoint(
  state: ModelState,
  context: SearchContext,
  subset: SearchSubset,
): Promise<void> {
  const supernet = state.supernet;
  if (!supernet) return;
  await measureLosses(state, context, subset);
  if (state.step === supernet.endStep) await finishSearch(state, context, subset);
}
