/**
 * The growth space of progressive learning (autoprog-spec §2, §5.1): per-stage depth and
 * input-side lists from the scaling ratios, stage start epochs, and the restricted per-stage
 * spaces Ω_k that AutoProg searches. Pure functions.
 */

export interface Architecture {
  readonly depth: number;
  readonly side: number;
}

export interface GrowthSpaceOptions {
  /** Full depth L. */
  readonly depth: number;
  /** Full input side R. */
  readonly side: number;
  readonly patchSize: number;
  /** Number of stages K. */
  readonly stages: number;
  /** Initial scaling ratio s0 (0.5 default, 0.4 supported). */
  readonly initialRatio: number;
}

/** The growth space of a spec's model (s0 defaults to 0.5). */
export function growthSpaceOptions(
  spec: { training: { stages: number } },
  config: { depth: number; imageSize: number; patchSize: number },
  initialRatio = 0.5,
): GrowthSpaceOptions {
  return {
    depth: config.depth,
    side: config.imageSize,
    patchSize: config.patchSize,
    stages: spec.training.stages,
    initialRatio,
  };
}

/** s_k = s0 + (1 − s0)·k/(K−1), k = 0..K−1 (a single stage trains the full model). */
export function scalingRatios(stages: number, initialRatio: number): number[] {
  if (stages === 1) return [1];
  return Array.from({ length: stages }, (_, k) => initialRatio + ((1 - initialRatio) * k) / (stages - 1));
}

/** l_k = round(s_k·L), at least 1; the last is always L. */
export function depthList(options: GrowthSpaceOptions): number[] {
  return scalingRatios(options.stages, options.initialRatio).map((s, k, all) =>
    k === all.length - 1
      ? options.depth
      : Math.max(1, Math.min(options.depth, Math.round(s * options.depth))),
  );
}

/**
 * r_k = s_k·R rounded to the nearest multiple of 2·patch (ties round up), never below 2·patch
 * nor above R; the last is always R — which need not be such a multiple (28 px with 4-px
 * patches gives 16, 16, 24, 28).
 */
export function sideList(options: GrowthSpaceOptions): number[] {
  const step = 2 * options.patchSize;
  return scalingRatios(options.stages, options.initialRatio).map((s, k, all) => {
    if (k === all.length - 1) return options.side;
    const rounded = Math.round((s * options.side) / step) * step;
    return Math.min(options.side, Math.max(step, rounded));
  });
}

/** Stage k starts at epoch floor(k·T/K). */
export function stageStartEpochs(epochs: number, stages: number): number[] {
  return Array.from({ length: stages }, (_, k) => Math.floor((k * epochs) / stages));
}

/** The manual (uniform linear) schedule: stage k trains (l_k, r_k). */
export function linearSchedule(options: GrowthSpaceOptions): Architecture[] {
  const depths = depthList(options);
  const sides = sideList(options);
  return depths.map((depth, k) => ({ depth, side: sides[k] as number }));
}

const distinctSorted = (values: readonly number[]) => [...new Set(values)].sort((a, b) => a - b);

function grid(sides: readonly number[], depths: readonly number[]): Architecture[] {
  const space: Architecture[] = [];
  for (const side of distinctSorted(sides))
    for (const depth of distinctSorted(depths)) space.push({ depth, side });
  return space;
}

/** Every (depth, side) of the growth space's lists: all a search can ever train. */
export function growthGrid(options: GrowthSpaceOptions): Architecture[] {
  return grid(sideList(options), depthList(options));
}

/**
 * Ω_k. Stage 0: {smallest, medium (index 2 of 4, scaled for other K), largest} side × the same
 * depths — it holds the full model, so the search can fall back to ordinary training.
 * Stage k ≥ 1: side ∈ {current, next larger}, depth ∈ the next up to three depths above the
 * current one (the current depth when already full). Duplicates after rounding are dropped.
 *
 * `sideFloor` (stage k ≥ 1): the smallest side the stage may train. With the manual schedule's
 * r_k as floor, a network still below it is offered {r_k, next larger} instead of
 * {current, next}: token growth may run ahead of the schedule, never behind it.
 */
export function stageSpace(
  options: GrowthSpaceOptions,
  stage: number,
  current: Architecture,
  sideFloor = 0,
): Architecture[] {
  if (stage === 0) {
    // Indices into the per-stage lists: first, "medium" (index 2 of 4), last.
    const last = options.stages - 1;
    const picks = [0, Math.round((2 * last) / 3), last];
    const rawSides = sideList(options);
    const rawDepths = depthList(options);
    return grid(
      picks.map((i) => rawSides[i] as number),
      picks.map((i) => rawDepths[i] as number),
    );
  }
  const depths = distinctSorted(depthList(options));
  const sides = distinctSorted(sideList(options));
  const lowest = sides.find((s) => s >= Math.max(current.side, sideFloor)) ?? current.side;
  const nextSide = sides.find((s) => s > lowest);
  const stageSides = nextSide === undefined ? [lowest] : [lowest, nextSide];
  const above = depths.filter((d) => d > current.depth).slice(0, 3);
  return grid(stageSides, above.length > 0 ? above : [current.depth]);
}

/** True when the current sub-network is already the largest of Ω_k: nothing to search. */
export function isLargestInSpace(space: readonly Architecture[], current: Architecture): boolean {
  return space.every((a) => a.depth <= current.depth && a.side <= current.side);
}
