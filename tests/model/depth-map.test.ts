import { describe, expect, it } from "vitest";
import {
  depthMap,
  insertedBlocks,
  interpolationMap,
  randinitMap,
  stackingMap,
} from "../../src/model/depth-map.ts";

describe("depth index maps", () => {
  it("interpolation 9 → 14 duplicates the five blocks nearest the classifier", () => {
    expect(interpolationMap(9, 14)).toEqual([0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]);
  });

  it("interpolation 6 → 12 duplicates every block", () => {
    expect(interpolationMap(6, 12)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  });

  it("interpolation beyond 2p applies the rule repeatedly (documented map)", () => {
    // 2 → 4 = [0,0,1,1]; 4 → 5 = [0,1,2,3,3]; composed:
    expect(interpolationMap(2, 5)).toEqual([0, 0, 1, 1, 1]);
    // 5 → 12 (s0 = 0.4 at L = 12): 5 → 10 doubles, 10 → 12 duplicates the last two.
    expect(interpolationMap(5, 12)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4]);
    expect(interpolationMap(1, 3)).toEqual([0, 0, 0]);
  });

  it("stacking 4 → 8 repeats the stack", () => {
    expect(stackingMap(4, 8)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(stackingMap(3, 5)).toEqual([0, 1, 2, 0, 1]);
  });

  it("randinit keeps old blocks in place from the input side", () => {
    expect(randinitMap(3, 5)).toEqual([0, 1, 2, null, null]);
  });

  it("identity and mogrow use the interpolation map; p = n is the identity", () => {
    expect(depthMap(4, 6, "identity")).toEqual(interpolationMap(4, 6));
    expect(depthMap(4, 6, "mogrow")).toEqual(interpolationMap(4, 6));
    expect(interpolationMap(4, 4)).toEqual([0, 1, 2, 3]);
  });

  it("names the inserted blocks: later copies and fresh blocks", () => {
    expect(insertedBlocks(interpolationMap(9, 14))).toEqual([5, 7, 9, 11, 13]);
    expect(insertedBlocks(stackingMap(2, 4))).toEqual([2, 3]);
    expect(insertedBlocks(randinitMap(2, 3))).toEqual([2]);
  });

  it("refuses to shrink", () => {
    expect(() => interpolationMap(4, 3)).toThrow(RangeError);
  });
});
