/**
 * The paper's Table 3 arithmetic (autoprog-spec §7), in one place for the `/report` route and
 * bench/compare.ts. A speedup is T_original / T_arm − 1, where each T is the MEAN over the
 * completed seeds of that arm (the paper reports means over seeds; comparing means keeps one
 * lucky or unlucky original run from deciding every row).
 */

/** The time figures of one finished run (a RunResult or a runs row). */
export interface RunSeconds {
  /** The whole training loop: steps, search passes, evaluation and checkpoints. */
  readonly wallSeconds: number;
  /** Optimizer steps only (supernet epochs included). */
  readonly trainSeconds: number;
  /** Candidate measurement passes. */
  readonly searchSeconds: number;
}

/** T_method of the paper: optimizer steps plus search passes (evaluation and checkpoints left out). */
export const trainSearchSeconds = (run: RunSeconds): number => run.trainSeconds + run.searchSeconds;

/** Mean of the finite values; null when there are none. */
export function mean(values: readonly (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length;
}

/** baseline / value − 1: +1 means twice as fast (or half the FLOPs); null when either is unknown. */
export function speedup(baseline: number | null, value: number | null): number | null {
  return baseline !== null && value !== null && value > 0 ? baseline / value - 1 : null;
}

/** Per-arm means of the figures a speedup compares. */
export interface ArmTimes {
  readonly wallSeconds: number | null;
  readonly trainSearchSeconds: number | null;
  readonly flopsPerStepMean: number | null;
}

export function armTimes(runs: readonly (RunSeconds & { readonly flopsPerStepMean: number })[]): ArmTimes {
  return {
    wallSeconds: mean(runs.map((r) => r.wallSeconds)),
    trainSearchSeconds: mean(runs.map(trainSearchSeconds)),
    flopsPerStepMean: mean(runs.map((r) => r.flopsPerStepMean)),
  };
}

/** The speedups of an arm against the baseline arm, each named for the figure it compares. */
export function speedups(baseline: ArmTimes, arm: ArmTimes) {
  return {
    wallSpeedup: speedup(baseline.wallSeconds, arm.wallSeconds),
    trainSearchSpeedup: speedup(baseline.trainSearchSeconds, arm.trainSearchSeconds),
    flopsSpeedup: speedup(baseline.flopsPerStepMean, arm.flopsPerStepMean),
  };
}
