/**
 * Noise-aware candidate selection ("paired" rule). Every candidate is scored on the same fixed
 * search subset, so per-image losses are paired across candidates: the noise that matters is
 * the spread of per-image *differences*, much smaller than the spread of the losses themselves.
 *
 * The lowest-mean candidate is the reference. A candidate is tied with it when the paired mean
 * difference (candidate − reference, over the same images) is within `z` standard errors of
 * that difference (SE = sd of the per-image differences / √n), plus an optional equivalence
 * margin: `tolerance` × the reference's mean loss. The margin states a trade-off the noise test
 * cannot: a loss edge that is real but small this early in training is not worth a costlier net.
 * Among the tied candidates (the reference included) the cheapest wins; equal costs go to the
 * lower mean loss.
 */

export interface PairedCandidate {
  /** Loss of each image of the subset (averaged over the measurement points), same order for all. */
  readonly imageLosses: readonly number[];
  /** Seconds per training step, or forward FLOPs per image. */
  readonly cost: number;
}

export interface PairedComparison {
  /** Mean per-image loss. */
  readonly meanLoss: number;
  /** Mean of (candidate − reference) over the images; 0 for the reference. */
  readonly meanDifference: number;
  /** Standard error of that mean difference; 0 for the reference. */
  readonly standardError: number;
  /** Within z standard errors (plus the margin) of the reference (the reference is tied with itself). */
  readonly tied: boolean;
}

export interface PairedSelection {
  readonly comparisons: readonly PairedComparison[];
  /** Index of the lowest-mean candidate. */
  readonly reference: number;
  /** Index of the cheapest tied candidate. */
  readonly winner: number;
}

/** The default z: a difference under two standard errors is not told apart from noise. */
export const DEFAULT_TIE_Z = 2;

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/** Mean and standard error of the per-image differences a − b. */
export function pairedDifference(
  a: readonly number[],
  b: readonly number[],
): { meanDifference: number; standardError: number } {
  if (a.length !== b.length || a.length === 0)
    throw new Error("paired losses need the same, non-empty images");
  const differences = a.map((value, i) => value - (b[i] as number));
  const meanDifference = mean(differences);
  const n = differences.length;
  if (n < 2) return { meanDifference, standardError: 0 };
  const variance = differences.reduce((sum, d) => sum + (d - meanDifference) ** 2, 0) / (n - 1);
  return { meanDifference, standardError: Math.sqrt(variance / n) };
}

/** The rule's own default, no equivalence margin (only noise ties); a spec's default is in core/arms.ts. */
export const DEFAULT_TOLERANCE = 0;

export function selectPaired(
  candidates: readonly PairedCandidate[],
  z: number,
  tolerance: number = DEFAULT_TOLERANCE,
): PairedSelection {
  if (candidates.length === 0) throw new Error("no candidates to select from");
  if (!(z >= 0)) throw new Error(`z must be ≥ 0, got ${z}`);
  if (!(tolerance >= 0)) throw new Error(`tolerance must be ≥ 0, got ${tolerance}`);
  const means = candidates.map((c) => mean(c.imageLosses));
  let reference = 0;
  means.forEach((m, i) => {
    if (m < (means[reference] as number)) reference = i;
  });
  const referenceLosses = (candidates[reference] as PairedCandidate).imageLosses;
  const margin = tolerance * (means[reference] as number);
  const comparisons = candidates.map((c, i): PairedComparison => {
    if (i === reference)
      return { meanLoss: means[i] as number, meanDifference: 0, standardError: 0, tied: true };
    const { meanDifference, standardError } = pairedDifference(c.imageLosses, referenceLosses);
    return {
      meanLoss: means[i] as number,
      meanDifference,
      standardError,
      tied: meanDifference <= z * standardError + margin,
    };
  });
  let winner = reference;
  comparisons.forEach((c, i) => {
    if (!c.tied) return;
    const cost = (candidates[i] as PairedCandidate).cost;
    const best = (candidates[winner] as PairedCandidate).cost;
    if (cost < best || (cost === best && c.meanLoss < (comparisons[winner] as PairedComparison).meanLoss))
      winner = i;
  });
  return { comparisons, reference, winner };
}
