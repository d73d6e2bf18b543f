import { describe, expect, it } from "vitest";
import { type CostTable, costEntries, costKey, lookupCost, missingCosts } from "../../src/core/cost-table.ts";
import { growthGrid, stageSpace } from "../../src/core/growth-space.ts";

const options = { depth: 12, side: 224, patchSize: 16, stages: 4, initialRatio: 0.5 };

describe("cost table", () => {
  it("timed once over the growth grid, it holds every candidate of every later stage", () => {
    const table: CostTable = {};
    const grid = growthGrid(options);
    for (const a of missingCosts(table, grid, 64)) table[costKey(a, 64)] = a.depth * a.side;
    expect(Object.keys(table)).toHaveLength(grid.length);
    // Every stage k ≥ 1 from every architecture of the grid: nothing left to time.
    for (let k = 1; k < options.stages; k++) {
      for (const current of grid)
        expect(missingCosts(table, stageSpace(options, k, current), 64)).toEqual([]);
    }
    expect(missingCosts(table, stageSpace(options, 0, { depth: 0, side: 0 }), 64)).toEqual([]);
    // Another batch is another cost.
    expect(missingCosts(table, grid, 128)).toHaveLength(grid.length);
  });

  it("lists each missing architecture once and reads entries back", () => {
    const table: CostTable = { [costKey({ depth: 2, side: 8 }, 4)]: 0.5 };
    const wanted = [
      { depth: 2, side: 8 },
      { depth: 3, side: 8 },
      { depth: 3, side: 8 },
    ];
    expect(missingCosts(table, wanted, 4)).toEqual([{ depth: 3, side: 8 }]);
    expect(lookupCost(table, { depth: 2, side: 8 }, 4)).toBe(0.5);
    expect(() => lookupCost(table, { depth: 3, side: 8 }, 4)).toThrow(/no measured cost for 3@8@4/);
    expect(costEntries(table)).toEqual([{ depth: 2, side: 8, batch: 4, seconds: 0.5 }]);
  });
});
