import { describe, expect, it } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import { applyEvent, EMPTY_RUN_VIEW, emaNames, type RunView } from "../../src/ui/run-state.ts";
import { checkpointSaved, epochCompleted, stageGrown, stageStarted } from "../../support/fixtures.ts";

const fold = (events: readonly [number, TrainingEvent][], from: RunView = EMPTY_RUN_VIEW) =>
  events.reduce((view, [seq, event]) => applyEvent(view, seq, event), from);

describe("the run page's view of a run's events", () => {
  it("ignores an event at or below the last seq, so a replay around a reconnect adds no point", () => {
    const first = fold([
      [1, stageStarted(0, 2, 28, 0)],
      [2, epochCompleted(0)],
      [3, epochCompleted(1)],
    ]);
    const again = fold(
      [
        [2, epochCompleted(0)],
        [3, epochCompleted(1)],
        [4, epochCompleted(2)],
      ],
      first,
    );
    expect(again.epochs.map((p) => p.epoch)).toEqual([0, 1, 2]);
    expect(again.log.map((l) => l.seq)).toEqual([4, 3, 2, 1]);
    expect(again.lastSeq).toBe(4);
  });

  it("replaces an epoch seen again under a new seq (a resumed attempt) instead of adding it", () => {
    const view = fold([
      [1, epochCompleted(0)],
      [2, { ...epochCompleted(0), trainLoss: 0.5 }],
    ]);
    expect(view.epochs).toHaveLength(1);
    expect(view.epochs[0]?.trainLoss).toBe(0.5);
  });

  it("draws a searched stage as what its growth trains, with the operator and FLOPs", () => {
    const view = fold([
      [1, stageStarted(0, 2, 28, 0)],
      [
        2,
        {
          type: "stage.grown",
          stage: 0,
          from: { depth: 2, side: 28, tokens: 17 },
          to: { depth: 1, side: 14, tokens: 5 },
          operator: "mogrow",
          parametersBefore: 10,
          parametersAfter: 10,
          flopsBefore: 2e5,
          flopsAfter: 3e4,
          secondsSoFar: 1,
        },
      ],
      [3, stageStarted(1, 2, 28, 2)],
      [4, { ...epochCompleted(2), flopsPerImage: 2e5 }],
    ]);
    expect(view.stages).toEqual([
      {
        stage: 0,
        startEpoch: 0,
        epochs: 2,
        depth: 1,
        side: 14,
        tokens: 5,
        flopsPerImage: 3e4,
        operator: "mogrow",
      },
      {
        stage: 1,
        startEpoch: 2,
        epochs: 2,
        depth: 2,
        side: 28,
        tokens: 17,
        flopsPerImage: 2e5,
        operator: null,
      },
    ]);
  });

  it("gives a stage the operator of a growth announced before the stage itself (MoGrow into the last stage)", () => {
    const view = fold([
      [1, stageStarted(0, 1, 14, 0)],
      [2, stageGrown(1)],
      [3, stageStarted(1, 2, 28, 2)],
    ]);
    expect(view.stages[1]).toMatchObject({
      stage: 1,
      depth: 2,
      side: 28,
      operator: "mogrow",
      flopsPerImage: 6e5,
    });
    expect(view.pendingGrowth).toBeNull();
  });

  it("keeps test top-1 per EMA and the outcome", () => {
    const view = fold([
      [1, epochCompleted(0)],
      [2, { type: "run.failed", reason: "cancelled", message: "stopped", epoch: 1, step: 4 }],
    ]);
    expect(emaNames(view.epochs)).toEqual(Object.keys(epochCompleted(0).evaluation?.ema ?? {}).sort());
    // A cancellation ends the run as `cancelled`, never "failed: cancelled".
    expect(view.outcome).toEqual({ state: "cancelled", text: "stopped" });
    const failed = fold([
      [1, { type: "run.failed", reason: "non_finite_loss", message: "NaN", epoch: 1, step: 4 }],
    ]);
    expect(failed.outcome).toEqual({ state: "failed", text: "non_finite_loss: NaN" });
  });

  it("knows the newest checkpoint's epoch (the model download waits for one)", () => {
    expect(EMPTY_RUN_VIEW.checkpointEpoch).toBeNull();
    expect(
      fold([
        [1, checkpointSaved(1)],
        [2, epochCompleted(1)],
        [3, checkpointSaved(2)],
      ]).checkpointEpoch,
    ).toBe(2);
  });
});
