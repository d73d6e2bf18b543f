import { costKey, missingCosts } from "../core/cost-table.ts";
import { type Architecture, growthGrid, growthSpaceOptions } from "../core/growth-space.ts";
import { candidateStepSeconds, type SearchSubset } from "./search.ts";
import type { ModelState } from "./state.ts";

/**
 * Fills the state's cost table (core/cost-table.ts): times every architecture of the growth
 * space that the model can run now (at the first searched stage the supernet holds the full
 * depth, so that is all of them), plus any candidate still missing (a run resumed from a
 * checkpoint written before the table existed). Returns how many were timed: 0 after the first
 * searched stage.
 */
export async function calibrateCosts(
  state: ModelState,
  settings: {
    readonly spec: { training: { stages: number } };
    readonly initialRatio: number;
    readonly candidates: readonly Architecture[];
    readonly subset: SearchSubset;
    readonly batch: number;
    readonly timingRuns: number;
  },
): Promise<number> {
  const options = growthSpaceOptions(settings.spec, state.config, settings.initialRatio);
  const space = growthGrid(options).filter((a) => a.depth <= state.depth);
  const missing = missingCosts(state.costTable, [...space, ...settings.candidates], settings.batch);
  for (const architecture of missing) {
    // A step's time depends on how many blocks run, not which: the first `depth` blocks stand in.
    const activeBlocks = Array.from({ length: state.depth }, (_, i) => i < architecture.depth);
    state.costTable[costKey(architecture, settings.batch)] = await candidateStepSeconds(
      state.config,
      state.weights,
      settings.subset,
      { side: architecture.side, activeBlocks },
      settings.batch,
      settings.timingRuns,
    );
  }
  return missing.length;
}
