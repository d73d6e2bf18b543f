import type { RunRow, StageRow } from "../../db/runs.ts";
import { type ArmTimes, armTimes, mean, speedups } from "../../src/core/speedup.ts";

/**
 * The paper's Table 3 for one experiment: per arm, accuracy, time and the speedups against the
 * `original` arm, means over the arm's completed seeds (the arithmetic is src/core/speedup.ts).
 */
export interface ArmReport {
  readonly arm: string;
  readonly kind: string;
  readonly runs: number;
  readonly completed: number;
  readonly top1: number | null;
  readonly bestTop1: number | null;
  readonly wallSeconds: number | null;
  readonly trainSeconds: number | null;
  readonly trainSearchSeconds: number | null;
  /** Wall seconds of the original arm / this arm's − 1; null without an original arm. */
  readonly wallSpeedup: number | null;
  /** The paper's figure: train + search seconds of the original arm / this arm's − 1. */
  readonly trainSearchSpeedup: number | null;
  /** Mean FLOPs per step of the original arm / this arm's − 1 (flopsFull stands in without one). */
  readonly flopsSpeedup: number | null;
  /** Share of wall seconds spent measuring search candidates. */
  readonly searchShare: number | null;
  /** The sub-network of each stage, as the first completed seed trained it. */
  readonly schedule: readonly {
    stage: number;
    startEpoch: number;
    depth: number | null;
    side: number | null;
  }[];
  readonly seeds: readonly { seed: number; runId: string; state: string; top1: number | null }[];
  /** A fork's parent: its arm, run and the epoch the fork started from; null for the spec's arms. */
  readonly forkOf: { readonly arm: string; readonly runId: string; readonly epoch: number } | null;
}

/** The figures of a completed run row (its result holds the search seconds). */
function secondsOf(run: RunRow) {
  if (run.wallSeconds === null || run.trainSeconds === null || run.flopsPerImageMean === null) return null;
  return {
    wallSeconds: run.wallSeconds,
    trainSeconds: run.trainSeconds,
    searchSeconds: run.result?.searchSeconds ?? 0,
    flopsPerStepMean: run.flopsPerImageMean,
  };
}

export function reportTable(runs: readonly RunRow[], stages: readonly StageRow[]): ArmReport[] {
  const arms = new Map<string, RunRow[]>();
  for (const run of runs) arms.set(run.label, [...(arms.get(run.label) ?? []), run]);
  const summaries = [...arms.values()].map((armRuns) => {
    const done = armRuns.filter((r) => r.state === "completed");
    const timed = done.map(secondsOf).filter((s) => s !== null);
    return { armRuns, done, timed, times: armTimes(timed) };
  });
  const baseline = summaries.find((s) => s.armRuns[0]?.arm === "original" && s.done.length > 0);
  return summaries.map(({ armRuns, done, timed, times }): ArmReport => {
    const first = armRuns[0] as RunRow;
    const scheduleRun = done[0] ?? first;
    const searchSeconds = mean(timed.map((r) => r.searchSeconds));
    const fullModel: ArmTimes = {
      wallSeconds: null,
      trainSearchSeconds: null,
      flopsPerStepMean: mean(done.map((r) => r.flopsFull)),
    };
    const against = speedups(baseline?.times ?? fullModel, times);
    return {
      arm: first.label,
      kind: first.arm,
      runs: armRuns.length,
      completed: done.length,
      top1: mean(done.map((r) => r.top1)),
      bestTop1: mean(done.map((r) => r.bestTop1)),
      wallSeconds: times.wallSeconds,
      trainSeconds: mean(timed.map((r) => r.trainSeconds)),
      trainSearchSeconds: times.trainSearchSeconds,
      ...against,
      searchShare: searchSeconds !== null && times.wallSeconds ? searchSeconds / times.wallSeconds : null,
      schedule: stages
        .filter((s) => s.runId === scheduleRun.id)
        .map((s) => ({ stage: s.stage, startEpoch: s.startEpoch, depth: s.depth, side: s.side })),
      seeds: armRuns.map((r) => ({ seed: r.seed, runId: r.id, state: r.state, top1: r.top1 })),
      forkOf: forkOf(first, runs),
    };
  });
}

function forkOf(run: RunRow, runs: readonly RunRow[]): ArmReport["forkOf"] {
  if (run.parentRunId === null) return null;
  const parent = runs.find((r) => r.id === run.parentRunId);
  return { arm: parent?.label ?? "", runId: run.parentRunId, epoch: run.forkEpoch ?? 0 };
}
