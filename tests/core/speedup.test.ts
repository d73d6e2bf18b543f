import { describe, expect, it } from "vitest";
import { armTimes, speedup, speedups, trainSearchSeconds } from "../../src/core/speedup.ts";

const run = (wallSeconds: number, trainSeconds: number, searchSeconds = 0, flopsPerStepMean = 100) => ({
  wallSeconds,
  trainSeconds,
  searchSeconds,
  flopsPerStepMean,
});

describe("the speed-up arithmetic", () => {
  it("compares means over seeds, each figure named for what it compares", () => {
    const original = armTimes([run(120, 100), run(80, 60)]);
    const arm = armTimes([run(50, 30, 10, 50)]);
    expect(original).toEqual({ wallSeconds: 100, trainSearchSeconds: 80, flopsPerStepMean: 100 });
    expect(speedups(original, arm)).toEqual({ wallSpeedup: 1, trainSearchSpeedup: 1, flopsSpeedup: 1 });
  });

  it("counts search passes in T but not evaluation", () => {
    expect(trainSearchSeconds(run(99, 30, 10))).toBe(40);
  });

  it("is null when a figure is unknown", () => {
    expect(speedup(null, 3)).toBeNull();
    expect(speedup(3, null)).toBeNull();
    expect(speedup(3, 0)).toBeNull();
  });
});
