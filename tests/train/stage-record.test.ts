import { describe, expect, it } from "vitest";
import { forwardFlops, parameterCount } from "../../src/core/flops.ts";
import {
  growthReport,
  stageGrownEvent,
  stageRecord,
  stageSpan,
  stageStartedEvent,
} from "../../src/train/stage-record.ts";
import { TINY_CONFIG } from "../helpers.ts";

// TINY_CONFIG: 8 px images, 2-px patches → (side/2)² + 1 tokens.
const before = { depth: 1, side: 4 };
const after = { depth: 3, side: 8 };

describe("the stage record builder", () => {
  it("describes a growth from its before and after architectures", () => {
    const growth = growthReport(TINY_CONFIG, {
      from: before,
      to: after,
      operator: "mogrow",
      secondsSoFar: 12.5,
    });
    expect(growth).toEqual({
      from: { depth: 1, side: 4, tokens: 5 },
      to: { depth: 3, side: 8, tokens: 17 },
      operator: "mogrow",
      parametersBefore: parameterCount(TINY_CONFIG, 1),
      parametersAfter: parameterCount(TINY_CONFIG, 3),
      flopsBefore: forwardFlops(TINY_CONFIG, 1, 4),
      flopsAfter: forwardFlops(TINY_CONFIG, 3, 8),
      secondsSoFar: 12.5,
    });
    expect(growth.parametersAfter).toBeGreaterThan(growth.parametersBefore);
    expect(growth.flopsAfter).toBeGreaterThan(growth.flopsBefore);
    expect(stageGrownEvent(2, growth)).toEqual({ type: "stage.grown", stage: 2, ...growth });
  });

  it("spans a stage from its start to the next stage's start, the last one to the run's end", () => {
    const schedule = {
      stages: [
        { startEpoch: 0, architecture: before },
        { startEpoch: 3, architecture: after },
      ],
      epochs: 10,
    };
    expect(stageSpan(schedule, 0)).toEqual({ stage: 0, startEpoch: 0, epochs: 3 });
    expect(stageSpan(schedule, 1)).toEqual({ stage: 1, startEpoch: 3, epochs: 7 });
    expect(() => stageSpan(schedule, 2)).toThrow(/no stage 2/);
  });

  it("records a stage at its architecture, and stage.started carries only the header", () => {
    const growth = growthReport(TINY_CONFIG, {
      from: before,
      to: after,
      operator: "stacking",
      secondsSoFar: 1,
    });
    const record = stageRecord(TINY_CONFIG, { stage: 1, startEpoch: 3, epochs: 7 }, after, growth);
    expect(record).toEqual({
      stage: 1,
      startEpoch: 3,
      epochs: 7,
      depth: 3,
      side: 8,
      tokens: 17,
      flopsPerImage: forwardFlops(TINY_CONFIG, 3, 8),
      parameters: parameterCount(TINY_CONFIG, 3),
      growth,
    });
    expect(stageStartedEvent(record)).toEqual({
      type: "stage.started",
      stage: 1,
      startEpoch: 3,
      epochs: 7,
      depth: 3,
      side: 8,
      tokens: 17,
    });
  });
});
