/**
 * Depth index maps for growing p blocks into n (autoprog-spec §3). A map has one entry per new
 * block: the index of the old block it copies, or null for a freshly initialised block.
 * Block 0 is next to the input; block p−1 next to the classifier.
 */
import type { GrowthOperatorName } from "../core/spec.ts";
import { depthParts, type ViTConfig } from "./config.ts";

export { GROWTH_OPERATORS } from "../core/spec.ts";
export type GrowthOperator = GrowthOperatorName;

export type DepthMap = readonly (number | null)[];

/**
 * Interpolation p → n. For p < n ≤ 2p the first 2p−n old blocks map one-to-one and each of
 * the last n−p old blocks (nearest the classifier) is duplicated next to itself; n = 2p
 * duplicates every block (new i ← old ⌊i/2⌋).
 *
 * For n > 2p (needed by s0 = 0.4; the authors' code cannot run it) the rule is applied
 * repeatedly, doubling while that stays ≤ n and finishing with one partial step, and the maps
 * are composed. Example 2 → 5: 2 → 4 = [0,0,1,1], then 4 → 5 = [0,1,2,3,3], composed
 * [0,0,1,1,1].
 */
export function interpolationMap(p: number, n: number): number[] {
  checkSizes(p, n);
  if (n === p) return range(p);
  if (n > 2 * p) {
    const doubled = interpolationMap(p, 2 * p);
    return interpolationMap(2 * p, n).map((i) => doubled[i] as number);
  }
  const oneToOne = 2 * p - n;
  const map = range(oneToOne);
  for (let old = oneToOne; old < p; old++) map.push(old, old);
  return map;
}

/** Progressive stacking: the old stack repeated on top of itself (new i ← old i mod p). */
export function stackingMap(p: number, n: number): number[] {
  checkSizes(p, n);
  return Array.from({ length: n }, (_, i) => i % p);
}

/** RandInit: old blocks keep their positions from the input side; the rest are new. */
export function randinitMap(p: number, n: number): (number | null)[] {
  checkSizes(p, n);
  return Array.from({ length: n }, (_, i) => (i < p ? i : null));
}

/** The index map an operator uses (identity and mogrow both interpolate). */
export function depthMap(p: number, n: number, operator: GrowthOperator): DepthMap {
  switch (operator) {
    case "randinit":
      return randinitMap(p, n);
    case "stacking":
      return stackingMap(p, n);
    case "interpolation":
    case "identity":
    case "mogrow":
      return interpolationMap(p, n);
  }
}

/**
 * A model's depth map p → n: the operator's map applied to each part of the block list on its
 * own (one part for a ViT; outlookers and transformer blocks for VOLO, core/volo-config.ts), so
 * no block is ever copied into the other kind. A part grown from nothing is freshly initialised.
 * For a ViT this is exactly `depthMap(p, n, operator)`.
 */
export function modelDepthMap(
  config: Pick<ViTConfig, "family" | "volo" | "resnet" | "depth">,
  p: number,
  n: number,
  operator: GrowthOperator,
): DepthMap {
  checkSizes(p, n);
  const from = depthParts(config, p);
  const to = depthParts(config, n);
  const map: (number | null)[] = [];
  let offset = 0;
  from.forEach((size, part) => {
    const target = to[part] ?? 0;
    const partMap: DepthMap =
      size === 0 ? Array.from({ length: target }, () => null) : depthMap(size, target, operator);
    for (const source of partMap) map.push(source === null ? null : source + offset);
    offset += size;
  });
  return map;
}

/**
 * Blocks that are new in the function sense: fresh ones, and every copy of an old block after
 * its first occurrence. Identity growth puts a zero ReZero scalar on exactly these.
 */
export function insertedBlocks(map: DepthMap): number[] {
  const seen = new Set<number>();
  const inserted: number[] = [];
  map.forEach((source, i) => {
    if (source === null || seen.has(source)) inserted.push(i);
    else seen.add(source);
  });
  return inserted;
}

function checkSizes(p: number, n: number): void {
  if (!Number.isInteger(p) || !Number.isInteger(n) || p < 1 || n < p) {
    throw new RangeError(`cannot grow ${p} blocks into ${n}`);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
