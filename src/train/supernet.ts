import { z } from "zod";
import type { Architecture } from "../core/growth-space.ts";
import { type Random, randomInt } from "../core/random.ts";
import type { SupernetPhase } from "../core/supernet-phase.ts";
import { depthParts, type ViTConfig } from "../model/config.ts";
import { insertedBlocks, interpolationMap, modelDepthMap } from "../model/depth-map.ts";
import { ArchitectureSchema, count } from "./meta-schemas.ts";

/**
 * The elastic supernet of one searched stage (autoprog-spec §5.2): the model holds the
 * deepest depth of Ω_k; a candidate of depth l activates every block that existed before the
 * growth plus the last (l − base) inserted blocks, counted from the classifier end. That
 * nesting lets a candidate's weights be read straight out of the supernet.
 */
export const SupernetStateSchema = z.object({
  stage: count,
  space: z.array(ArchitectureSchema).readonly(),
  /** Blocks that existed before the growth (the smallest candidate depth at stage 0). */
  baseDepth: count,
  /** Blocks inserted by the interpolation growth base → deepest, in block order. */
  inserted: z.array(count).readonly(),
  /** Epochs [startEpoch, endEpoch) train the supernet, at least in part. */
  startEpoch: count,
  endEpoch: count,
  /** Global steps [startStep, endStep) train it; losses are measured from scoreFromStep on (core/supernet-phase.ts). */
  startStep: count,
  endStep: count,
  scoreFromStep: count,
  /** Loss measurements so far, one list per candidate (same order as `space`). */
  losses: z.array(z.array(z.number())),
  /** Per candidate, each search image's loss summed over the measurement points so far. */
  imageLosses: z.array(z.array(z.number())).default([]),
  searchSeconds: z.number(),
});
/** Checkpoints hold it whole, so it is defined by the schema that reads it back. */
export type SupernetState = z.infer<typeof SupernetStateSchema>;

/**
 * The model facts the nesting reads: a VOLO block list is two parts (outlookers, transformer
 * blocks) and a candidate activates inserted blocks of each part to reach that part's depth.
 * Absent: one part (a ViT).
 */
export type SupernetModel = Pick<ViTConfig, "family" | "volo" | "resnet" | "depth">;

export function createSupernet(
  stage: number,
  space: readonly Architecture[],
  baseDepth: number,
  epochs: { start: number; end: number },
  phase: SupernetPhase = { startStep: 0, endStep: 0, scoreFromStep: 0 },
  model?: SupernetModel,
): SupernetState {
  const deepest = Math.max(...space.map((a) => a.depth));
  const map = model
    ? modelDepthMap(model, baseDepth, deepest, "interpolation")
    : interpolationMap(baseDepth, deepest);
  return {
    stage,
    space,
    baseDepth,
    inserted: insertedBlocks(map),
    startEpoch: epochs.start,
    endEpoch: epochs.end,
    ...phase,
    losses: space.map(() => []),
    imageLosses: space.map(() => []),
    searchSeconds: 0,
  };
}

export function supernetDepth(supernet: SupernetState): number {
  return Math.max(...supernet.space.map((a) => a.depth));
}

/** The active-block mask of a candidate depth (per part of the block list, see SupernetModel). */
export function candidateMask(supernet: SupernetState, depth: number, model?: SupernetModel): boolean[] {
  const total = supernetDepth(supernet);
  const extra = depth - supernet.baseDepth;
  if (extra < 0 || extra > supernet.inserted.length) {
    throw new Error(`depth ${depth} is outside the supernet (${supernet.baseDepth}..${total})`);
  }
  const partsOf = (l: number) => (model ? depthParts(model, l) : [l]);
  const [held, base, wanted] = [partsOf(total), partsOf(supernet.baseDepth), partsOf(depth)];
  const activeInserted = new Set<number>();
  let start = 0;
  held.forEach((size, part) => {
    const here = supernet.inserted.filter((i) => i >= start && i < start + size);
    const partExtra = (wanted[part] ?? 0) - (base[part] ?? 0);
    if (partExtra < 0 || partExtra > here.length)
      throw new Error(`depth ${depth} is outside the supernet's part ${part}`);
    for (const i of here.slice(here.length - partExtra)) activeInserted.add(i);
    start += size;
  });
  const inserted = new Set(supernet.inserted);
  return Array.from({ length: total }, (_, i) => !inserted.has(i) || activeInserted.has(i));
}

/** One side and one depth, uniformly and independently from Ω_k (it is a grid). */
export function sampleArchitecture(supernet: SupernetState, random: Random): Architecture {
  const sides = [...new Set(supernet.space.map((a) => a.side))].sort((a, b) => a - b);
  const depths = [...new Set(supernet.space.map((a) => a.depth))].sort((a, b) => a - b);
  return {
    side: sides[randomInt(random, sides.length)] as number,
    depth: depths[randomInt(random, depths.length)] as number,
  };
}

export function largestCandidate(supernet: SupernetState): Architecture {
  return {
    depth: supernetDepth(supernet),
    side: Math.max(...supernet.space.map((a) => a.side)),
  };
}

/** Block indices a candidate keeps, in order: the selection map that extracts it. */
export function selectionMap(mask: readonly boolean[]): number[] {
  return mask.flatMap((active, i) => (active ? [i] : []));
}
