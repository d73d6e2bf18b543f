import type { SelectionRule } from "./arms.ts";
import { type PairedComparison, selectPaired } from "./paired-selection.ts";

/**
 * AutoProg's candidate scoring (autoprog-spec §5.4): fit L ≈ a2·t^a1 over the candidates
 * (least squares in log-log space), w = max(0, −a1), score S = L·t^w, lowest wins. Ties go
 * to the cheaper candidate, explicitly (with two candidates the fit is exact and scores tie).
 */
export interface CandidateMeasure {
  readonly depth: number;
  readonly side: number;
  readonly tokens: number;
  /** Mean cross-entropy (no smoothing) of the fast EMA on the search subset. */
  readonly loss: number;
  /** Seconds per training step, or forward FLOPs per image when the search is deterministic. */
  readonly cost: number;
}

export interface ScoredCandidate extends CandidateMeasure {
  readonly score: number;
  readonly chosen: boolean;
}

export interface SearchScore {
  readonly candidates: readonly ScoredCandidate[];
  readonly a1: number;
  readonly a2: number;
  readonly w: number;
  readonly winner: number;
}

/** Relative tolerance under which two scores count as tied. */
const TIE_TOLERANCE = 1e-9;

/** Least-squares fit of log L = log a2 + a1·log t. One distinct cost gives a1 = 0. */
export function fitPowerLaw(costs: readonly number[], losses: readonly number[]): { a1: number; a2: number } {
  if (costs.length !== losses.length || costs.length === 0)
    throw new Error("need matching, non-empty costs and losses");
  if ([...costs, ...losses].some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new Error("costs and losses must be positive and finite for a power-law fit");
  }
  const x = costs.map(Math.log);
  const y = losses.map(Math.log);
  const n = x.length;
  const meanX = x.reduce((a, b) => a + b, 0) / n;
  const meanY = y.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ((x[i] as number) - meanX) ** 2;
    sxy += ((x[i] as number) - meanX) * ((y[i] as number) - meanY);
  }
  const a1 = sxx > 0 ? sxy / sxx : 0;
  return { a1, a2: Math.exp(meanY - a1 * meanX) };
}

export function scoreCandidates(measures: readonly CandidateMeasure[]): SearchScore {
  const { a1, a2 } = fitPowerLaw(
    measures.map((m) => m.cost),
    measures.map((m) => m.loss),
  );
  const w = Math.max(0, -a1);
  const scores = measures.map((m) => m.loss * m.cost ** w);
  let winner = 0;
  for (let i = 1; i < measures.length; i++) {
    const best = scores[winner] as number;
    const score = scores[i] as number;
    const tied = Math.abs(score - best) <= TIE_TOLERANCE * Math.max(Math.abs(score), Math.abs(best));
    const cheaper = (measures[i] as CandidateMeasure).cost < (measures[winner] as CandidateMeasure).cost;
    if ((tied && cheaper) || (!tied && score < best)) winner = i;
  }
  return {
    candidates: measures.map((m, i) => ({ ...m, score: scores[i] as number, chosen: i === winner })),
    a1,
    a2,
    w,
    winner,
  };
}

/** A candidate's measures with its per-image losses on the shared search subset. */
export interface PairedMeasure extends CandidateMeasure {
  readonly imageLosses: readonly number[];
}

export interface DecidedCandidate extends ScoredCandidate {
  readonly meanDifference: number;
  readonly standardError: number;
  readonly tied: boolean;
}

export interface SearchDecision {
  readonly candidates: readonly DecidedCandidate[];
  readonly a1: number;
  readonly w: number;
  readonly winner: number;
  readonly selection: SelectionRule;
  readonly z: number;
  readonly tolerance: number;
}

/**
 * Scores the candidates by both rules and lets `rule` pick: the paper's fit and the paired
 * comparison are both recorded, so a search record shows what the other rule would have seen.
 */
export function decideSearch(
  measures: readonly PairedMeasure[],
  rule: SelectionRule,
  z: number,
  tolerance = 0,
): SearchDecision {
  const paper = scoreCandidates(measures);
  const paired = selectPaired(measures, z, tolerance);
  const winner = rule === "paper" ? paper.winner : paired.winner;
  const candidates = measures.map((m, i): DecidedCandidate => {
    const comparison = paired.comparisons[i] as PairedComparison;
    return {
      depth: m.depth,
      side: m.side,
      tokens: m.tokens,
      loss: m.loss,
      cost: m.cost,
      score: (paper.candidates[i] as ScoredCandidate).score,
      chosen: i === winner,
      meanDifference: comparison.meanDifference,
      standardError: comparison.standardError,
      tied: comparison.tied,
    };
  });
  return { candidates, a1: paper.a1, w: paper.w, winner, selection: rule, z, tolerance };
}
