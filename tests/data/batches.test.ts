import { describe, expect, it } from "vitest";
import { batchCount, batchSlices, epochOrder } from "../../src/data/batches.ts";

describe("epochOrder", () => {
  it("is a permutation that depends only on seed and epoch", () => {
    const order = epochOrder(1000, 7, 3);
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, 7, 3)).toEqual(order);
    expect(epochOrder(1000, 7, 4)).not.toEqual(order);
    expect(epochOrder(1000, 8, 3)).not.toEqual(order);
  });
});

describe("batchSlices", () => {
  const order = Int32Array.from({ length: 10 }, (_, i) => 9 - i);

  it("keeps a short last batch unless dropLast", () => {
    const all = batchSlices(order, 4, false);
    expect(all.map((batch) => batch.length)).toEqual([4, 4, 2]);
    expect(all.flatMap((batch) => Array.from(batch))).toEqual(Array.from(order));
    expect(batchSlices(order, 4, true).map((batch) => batch.length)).toEqual([4, 4]);
    expect(batchSlices(order, 5, true)).toHaveLength(2);
  });

  it("agrees with batchCount and rejects a bad size", () => {
    for (const dropLast of [false, true]) {
      for (const size of [1, 3, 4, 10, 11]) {
        expect(batchSlices(order, size, dropLast)).toHaveLength(batchCount(order.length, size, dropLast));
      }
    }
    expect(() => batchSlices(order, 0, false)).toThrow(RangeError);
  });
});
