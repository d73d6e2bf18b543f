import { describe, expect, it } from "vitest";
import { epochPoints, measurementPoints, supernetPhase } from "../../src/core/supernet-phase.ts";

const stage = { stageStartStep: 1000, stageSteps: 5000, stepsPerEpoch: 250, fraction: 0.08, minSteps: 300 };

describe("supernet phase", () => {
  it("takes the fraction of the stage's steps, at least minSteps, never more than the stage", () => {
    expect(supernetPhase(stage)).toEqual({ startStep: 1000, endStep: 1400, scoreFromStep: 1200 });
    expect(supernetPhase({ ...stage, fraction: 0.02 })).toMatchObject({ endStep: 1300 }); // the floor
    expect(supernetPhase({ ...stage, stageSteps: 200 })).toMatchObject({ endStep: 1200 }); // the whole stage
  });

  it("keeps supernetEpochs: whole epochs, scored over the last one", () => {
    expect(supernetPhase({ ...stage, supernetEpochs: 2 })).toEqual({
      startStep: 1000,
      endStep: 1500,
      scoreFromStep: 1250,
    });
    expect(supernetPhase({ ...stage, supernetEpochs: 1 })).toMatchObject({
      endStep: 1250,
      scoreFromStep: 1000,
    });
  });

  it("spreads the measurement points over the scoring window, its ends included", () => {
    const phase = { startStep: 0, endStep: 400, scoreFromStep: 200 };
    expect(measurementPoints(phase, 3)).toEqual([200, 300, 400]);
    expect(measurementPoints(phase, 5)).toEqual([200, 250, 300, 350, 400]);
    expect(measurementPoints(phase, 1)).toEqual([400]);
  });

  it("gives each point to exactly one epoch; the phase's end to the epoch that ran its last step", () => {
    // 250 starts the second epoch; the end, 500, closes it (not the third epoch's b = 0).
    const points = [250, 375, 500];
    const perEpoch = [0, 250, 500].map((start) => epochPoints(points, start, 250, 500));
    expect(perEpoch).toEqual([[], [0, 125, 250], []]);
    expect(epochPoints([100, 150, 200], 0, 250, 200)).toEqual([100, 150, 200]); // ends mid-epoch
  });
});
