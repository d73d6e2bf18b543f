import type { RunRow, StageRow } from "../../db/runs.ts";

/**
 * The paper's Table 3 for one experiment: per arm, accuracy, time and the speedups against the
 * `original` arm (autoprog-spec §7), means over the arm's completed seeds.
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
  /**
   * T_original / T_arm − 1 with T = optimizer-step seconds + search passes (supernet epochs
   * included, per-epoch evaluation and checkpoints left out); null without an original arm.
   */
  readonly wallClockSpeedup: number | null;
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
}

const mean = (values: readonly (number | null)[]): number | null => {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length;
};

const searchSecondsOf = (run: RunRow): number | null => {
  const seconds = (run.result as { searchSeconds?: unknown } | null)?.searchSeconds;
  return typeof seconds === "number" ? seconds : null;
};

/** T_method of autoprog-spec §7. */
const methodSecondsOf = (run: RunRow): number | null =>
  run.trainSeconds === null ? null : run.trainSeconds + (searchSecondsOf(run) ?? 0);

export function reportTable(runs: readonly RunRow[], stages: readonly StageRow[]): ArmReport[] {
  const arms = new Map<string, RunRow[]>();
  for (const run of runs) arms.set(run.label, [...(arms.get(run.label) ?? []), run]);
  const summaries = [...arms.values()].map((armRuns) => {
    const done = armRuns.filter((r) => r.state === "completed");
    return {
      armRuns,
      done,
      wallSeconds: mean(done.map((r) => r.wallSeconds)),
      methodSeconds: mean(done.map(methodSecondsOf)),
      flopsPerImage: mean(done.map((r) => r.flopsPerImageMean)),
      flopsFull: mean(done.map((r) => r.flopsFull)),
    };
  });
  const baseline = summaries.find((s) => s.armRuns[0]?.arm === "original" && s.done.length > 0);
  const ratio = (a: number | null, b: number | null) =>
    a !== null && b !== null && b > 0 ? a / b - 1 : null;
  return summaries.map(
    ({ armRuns, done, wallSeconds, methodSeconds, flopsPerImage, flopsFull }): ArmReport => {
      const first = armRuns[0] as RunRow;
      const scheduleRun = done[0] ?? first;
      const searchSeconds = mean(done.map(searchSecondsOf));
      return {
        arm: first.label,
        kind: first.arm,
        runs: armRuns.length,
        completed: done.length,
        top1: mean(done.map((r) => r.top1)),
        bestTop1: mean(done.map((r) => r.bestTop1)),
        wallSeconds,
        trainSeconds: mean(done.map((r) => r.trainSeconds)),
        wallClockSpeedup: baseline ? ratio(baseline.methodSeconds, methodSeconds) : null,
        flopsSpeedup: ratio(baseline ? baseline.flopsPerImage : flopsFull, flopsPerImage),
        searchShare: searchSeconds !== null && wallSeconds ? searchSeconds / wallSeconds : null,
        schedule: stages
          .filter((s) => s.runId === scheduleRun.id)
          .map((s) => ({ stage: s.stage, startEpoch: s.startEpoch, depth: s.depth, side: s.side })),
        seeds: armRuns.map((r) => ({ seed: r.seed, runId: r.id, state: r.state, top1: r.top1 })),
      };
    },
  );
}
