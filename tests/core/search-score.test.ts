import { describe, expect, it } from "vitest";
import {
  type CandidateMeasure,
  decideSearch,
  fitPowerLaw,
  scoreCandidates,
} from "../../src/core/search-score.ts";

const candidate = (cost: number, loss: number, depth = 1): CandidateMeasure => ({
  depth,
  side: 16,
  tokens: 17,
  cost,
  loss,
});

describe("AutoProg search scoring", () => {
  it("recovers a known power-law exponent", () => {
    const costs = [1, 2, 4, 8, 16];
    const { a1, a2 } = fitPowerLaw(
      costs,
      costs.map((t) => 3 * t ** -0.3),
    );
    expect(a1).toBeCloseTo(-0.3, 10);
    expect(a2).toBeCloseTo(3, 10);
  });

  it("uses w = max(0, −a1): bigger models that are not better get no discount", () => {
    const result = scoreCandidates([candidate(1, 1.0), candidate(2, 1.1), candidate(4, 1.2)]);
    expect(result.a1).toBeGreaterThan(0);
    expect(result.w).toBe(0);
    expect(result.candidates.map((c) => c.score)).toEqual([1.0, 1.1, 1.2]);
    expect(result.winner).toBe(0);
  });

  it("scores S = L·t^w and picks the lowest", () => {
    // Losses drop steeply with cost except for one cheap outlier that is unusually good.
    const measures = [candidate(1, 2.0), candidate(2, 1.2), candidate(4, 1.0), candidate(8, 0.9)];
    const result = scoreCandidates(measures);
    const w = result.w;
    expect(w).toBeGreaterThan(0);
    result.candidates.forEach((c) => {
      expect(c.score).toBeCloseTo(c.loss * c.cost ** w, 12);
    });
    const lowest = Math.min(...result.candidates.map((c) => c.score));
    expect(result.candidates[result.winner]?.score).toBe(lowest);
    expect(result.candidates.filter((c) => c.chosen)).toHaveLength(1);
  });

  it("breaks a two-way tie toward the cheaper candidate, whatever the order", () => {
    const expensiveFirst = scoreCandidates([candidate(4, 1.0, 2), candidate(1, 2.0, 1)]);
    expect(expensiveFirst.candidates[0]?.score).toBeCloseTo(expensiveFirst.candidates[1]?.score ?? 0, 12);
    expect(expensiveFirst.winner).toBe(1);
    const cheapFirst = scoreCandidates([candidate(1, 2.0, 1), candidate(4, 1.0, 2)]);
    expect(cheapFirst.winner).toBe(0);
  });

  it("rejects non-positive numbers instead of fitting nonsense", () => {
    expect(() => fitPowerLaw([1, 0], [1, 1])).toThrow(/positive/);
  });
});

describe("decideSearch: the rule picks, both are recorded", () => {
  // Noise-level loss edges (the stage 0: 1.916–1.936) with a bigger cost spread.
  const reference = [1.5, 2.0, 2.5, 1.8];
  const noisy = [1.55, 1.97, 2.54, 1.77]; // differences +0.05 −0.03 +0.04 −0.03: mean 0.0075
  const measures = [
    { ...candidate(1, 1.9575), imageLosses: noisy },
    { ...candidate(3, 1.95), imageLosses: reference },
  ];

  it("paired: a tied cheaper candidate beats a noise-level edge, with its SE and tie recorded", () => {
    const decision = decideSearch(measures, "paired", 2);
    expect(decision.selection).toBe("paired");
    expect(decision.winner).toBe(0);
    expect(decision.candidates.map((c) => c.tied)).toEqual([true, true]);
    expect(decision.candidates[0]?.meanDifference).toBeCloseTo(0.0075, 12);
    expect(decision.candidates[0]?.standardError).toBeGreaterThan(0.0075 / 2);
    expect(decision.candidates[1]).toMatchObject({ meanDifference: 0, standardError: 0 });
    expect(decision.candidates.map((c) => c.chosen)).toEqual([true, false]);
  });

  it("paper: the same measures go to the fitted score", () => {
    const decision = decideSearch(measures, "paper", 2);
    expect(decision.winner).toBe(scoreCandidates(measures).winner);
    expect(decision.candidates[decision.winner]?.chosen).toBe(true);
    expect(decision.z).toBe(2);
  });
});
