import { describe, expect, it } from "vitest";
import { type CandidateMeasure, fitPowerLaw, scoreCandidates } from "../../src/core/search-score.ts";

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
