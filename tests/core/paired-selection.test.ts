import { describe, expect, it } from "vitest";
import { pairedDifference, selectPaired } from "../../src/core/paired-selection.ts";
import { createRandom } from "../../src/core/random.ts";

/** Per-image losses: a shared per-image difficulty (the pairing) plus a candidate's own noise. */
function syntheticLosses(difficulty: readonly number[], offset: number, noise: number, seed: number) {
  const random = createRandom(seed);
  return difficulty.map((d) => d + offset + noise * (random() - 0.5));
}

const images = 256;
const difficulty = (() => {
  const random = createRandom(1);
  return Array.from({ length: images }, () => 0.5 + 3 * random()); // spread ≫ candidate noise
})();

describe("paired (noise-aware) selection", () => {
  it("computes the mean and standard error of per-image differences", () => {
    const { meanDifference, standardError } = pairedDifference([2, 3, 4, 5], [1, 1, 1, 1]);
    expect(meanDifference).toBeCloseTo(2.5, 12);
    // sd of [1,2,3,4] = √(5/3); SE = sd/√4
    expect(standardError).toBeCloseTo(Math.sqrt(5 / 3) / 2, 12);
  });

  it("a clear winner wins even when it is the most expensive", () => {
    const candidates = [
      { imageLosses: syntheticLosses(difficulty, 0.3, 0.1, 2), cost: 1 },
      { imageLosses: syntheticLosses(difficulty, 0.15, 0.1, 3), cost: 2 },
      { imageLosses: syntheticLosses(difficulty, 0, 0.1, 4), cost: 4 },
    ];
    const selection = selectPaired(candidates, 2);
    expect(selection.reference).toBe(2);
    expect(selection.winner).toBe(2);
    expect(selection.comparisons.map((c) => c.tied)).toEqual([false, false, true]);
    expect(selection.comparisons[0]?.meanDifference).toBeCloseTo(0.3, 1);
  });

  it("indistinguishable candidates go to the cheapest, and the ties are recorded", () => {
    // Mean differences of a few thousandths against per-image noise of 0.2: noise-level edges.
    const candidates = [
      { imageLosses: syntheticLosses(difficulty, 0.004, 0.2, 5), cost: 4 },
      { imageLosses: syntheticLosses(difficulty, 0, 0.2, 6), cost: 3 },
      { imageLosses: syntheticLosses(difficulty, 0.002, 0.2, 7), cost: 1 },
      { imageLosses: syntheticLosses(difficulty, 0.5, 0.2, 8), cost: 0.5 },
    ];
    const selection = selectPaired(candidates, 2);
    expect(selection.comparisons.map((c) => c.tied)).toEqual([true, true, true, false]);
    expect(selection.winner).toBe(2);
    for (const c of selection.comparisons) expect(c.standardError).toBeGreaterThanOrEqual(0);
    expect(selection.comparisons[selection.reference]).toMatchObject({ meanDifference: 0, tied: true });
  });

  it("z = 0 keeps only exact ties: the lowest mean wins", () => {
    const candidates = [
      { imageLosses: syntheticLosses(difficulty, 0.004, 0.2, 5), cost: 1 },
      { imageLosses: syntheticLosses(difficulty, 0, 0.2, 6), cost: 3 },
    ];
    expect(selectPaired(candidates, 0).winner).toBe(1);
  });

  it("identical losses tie and go to the cheaper, whatever the order", () => {
    const same = syntheticLosses(difficulty, 0, 0.1, 9);
    expect(
      selectPaired(
        [
          { imageLosses: same, cost: 2 },
          { imageLosses: same, cost: 1 },
        ],
        2,
      ).winner,
    ).toBe(1);
    expect(
      selectPaired(
        [
          { imageLosses: same, cost: 1 },
          { imageLosses: same, cost: 2 },
        ],
        2,
      ).winner,
    ).toBe(0);
  });

  it("an equivalence margin ties a real but small loss edge, and only up to the margin", () => {
    // The mean loss is about 2.25; the cheaper candidate is 0.02 worse (≈0.9%), far beyond noise.
    const candidates = [
      { imageLosses: syntheticLosses(difficulty, 0.02, 0.02, 10), cost: 1 },
      { imageLosses: syntheticLosses(difficulty, 0, 0.02, 11), cost: 3 },
      { imageLosses: syntheticLosses(difficulty, 0.2, 0.02, 12), cost: 0.5 },
    ];
    const noiseOnly = selectPaired(candidates, 2);
    expect(noiseOnly.winner).toBe(1);
    const withMargin = selectPaired(candidates, 2, 0.01);
    expect(withMargin.comparisons.map((c) => c.tied)).toEqual([true, true, false]);
    expect(withMargin.winner).toBe(0);
    expect(selectPaired(candidates, 2, 0.005).winner).toBe(1);
    expect(() => selectPaired(candidates, 2, -0.1)).toThrow(/tolerance/);
  });
});
