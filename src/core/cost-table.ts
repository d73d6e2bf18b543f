import type { Architecture } from "./growth-space.ts";

/**
 * Measured step costs of AutoProg's candidates. A step's time depends only on (depth, side,
 * batch), so the whole growth space is timed once, at the first searched stage, and every later
 * stage reads its candidates' costs from this table instead of timing them again (that pass
 * cost as much as the search itself at our scale). The table is part of the model state, so a
 * resumed run reuses it.
 */

/** Seconds per training step, keyed by `depth@side@batch`. */
export type CostTable = Record<string, number>;

export interface CostEntry {
  readonly depth: number;
  readonly side: number;
  readonly batch: number;
  readonly seconds: number;
}

export const costKey = (architecture: Architecture, batch: number): string =>
  `${architecture.depth}@${architecture.side}@${batch}`;

/** The architectures whose cost at `batch` the table lacks, in the given order, without repeats. */
export function missingCosts(
  table: CostTable,
  architectures: readonly Architecture[],
  batch: number,
): Architecture[] {
  const seen = new Set<string>();
  return architectures.filter((a) => {
    const key = costKey(a, batch);
    if (key in table || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function lookupCost(table: CostTable, architecture: Architecture, batch: number): number {
  const seconds = table[costKey(architecture, batch)];
  if (seconds === undefined) throw new Error(`no measured cost for ${costKey(architecture, batch)}`);
  return seconds;
}

/** The table as a list (what a run result reports), by batch, depth, then side. */
export function costEntries(table: CostTable): CostEntry[] {
  return Object.entries(table)
    .map(([key, seconds]) => {
      const [depth, side, batch] = key.split("@").map(Number) as [number, number, number];
      return { depth, side, batch, seconds };
    })
    .sort((a, b) => a.batch - b.batch || a.depth - b.depth || a.side - b.side);
}
