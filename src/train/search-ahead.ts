import type { Architecture } from "../core/growth-space.ts";
import { beginSearchStage, stageSearches } from "./autoprog.ts";
import type { EpochTotals } from "./epoch.ts";
import type { RunContext } from "./run-context.ts";
import { activeDepth, enterStage } from "./stages.ts";
import { copyModelState, disposeModelState, type ModelState, shrinkInitialModel } from "./state.ts";

/**
 * AutoProg's search as a look-ahead (`search.winnerWeights: "regrow"`): the supernet phase
 * trains and scores a copy of the model, which is then dropped; the run's own model grows to
 * the winner with the arm's operator (MoGrow) and trains the whole stage, as a fixed schedule
 * does. What the look-ahead cost (its steps, FLOPs, passes, timing) is added to the run's
 * shares, so speed-ups stay honest. It runs between checkpoints, so a resumed run repeats it
 * exactly.
 */
export async function searchAhead(
  run: RunContext,
  k: number,
  trainEpochOf: (copy: RunContext, stepLimit: number) => Promise<EpochTotals>,
): Promise<void> {
  const { state } = run;
  const context = run.plan.searchContext;
  if (!context) throw new Error("the run has no search");
  if (!stageSearches(state, k, context)) {
    enterStage(state, k, context, { depth: activeDepth(state), side: state.side });
    return;
  }
  const copy = await copyModelState(state, run.spec.training.weightDecay);
  let winner: Architecture;
  try {
    // The copy's own stage events would describe a model the run never trains.
    beginSearchStage(copy, k, { ...context, emit: searchEventsOf(context.emit) });
    winner = await trainLookAhead({ ...run, state: copy }, trainEpochOf);
    takeSearchCosts(state, copy);
  } finally {
    disposeModelState(copy);
  }
  if (k === 0) shrinkInitialModel(state, winner);
  enterStage(state, k, context, winner);
}

/** Trains the copy's supernet phase (it may span epochs or end inside one); returns the winner. */
async function trainLookAhead(
  copyRun: RunContext,
  trainEpochOf: (copy: RunContext, stepLimit: number) => Promise<EpochTotals>,
): Promise<Architecture> {
  const copy = copyRun.state;
  const searched = copy.search.length;
  while (copy.supernet) {
    const totals = await trainEpochOf(copyRun, copy.supernet.endStep - copy.step);
    if (totals.steps === 0) throw new Error("the supernet phase made no progress");
    copy.flopsSum += totals.flopsSum;
    if (copy.supernet) copy.epoch += 1; // a whole epoch of the phase ran; the next one continues it
  }
  const record = copy.search[searched];
  if (!record) throw new Error("the supernet phase ended without a search record");
  return record.winner;
}

/** The search record and what the look-ahead cost move from the copy to the run's own state. */
function takeSearchCosts(state: ModelState, copy: ModelState): void {
  state.search.push(...copy.search.slice(state.search.length));
  state.searchSeconds = copy.searchSeconds;
  state.supernetSeconds = copy.supernetSeconds;
  state.flopsSum = copy.flopsSum;
  state.costTable = copy.costTable;
}

function searchEventsOf(emit: RunContext["emit"]): RunContext["emit"] {
  return (event) => {
    if (event.type === "stage.search.started" || event.type === "stage.search.completed") emit(event);
  };
}
