import { beforeAll, describe, expect, it } from "vitest";
import { useTestBackend } from "../helpers.ts";
import { runRecording, tinyGrowthSpec } from "./helpers.ts";

beforeAll(useTestBackend);

describe("RandAugment through the trainer", () => {
  const spec = (randAugment: { ops: number; magnitude: number } | null, adaptiveRegularization = true) =>
    tinyGrowthSpec([{ arm: "prog", adaptiveRegularization }], 4, { augment: { randAugment } });

  it("trains a growing arm under AdaReg with finite losses, reproducibly, and changes the batches", async () => {
    const on = await runRecording(spec({ ops: 2, magnitude: 9 }), "prog");
    const again = await runRecording(spec({ ops: 2, magnitude: 9 }), "prog");
    const off = await runRecording(spec(null), "prog");
    const losses = (run: typeof on) => run.result.history.map((h) => h.trainLoss);
    expect(losses(on)).toHaveLength(4);
    expect(losses(on).every(Number.isFinite)).toBe(true);
    expect(losses(again)).toEqual(losses(on));
    expect(losses(off)).not.toEqual(losses(on));
    // Drop-path and erasing are 0 here, so the first stage differs only by RandAugment's
    // magnitude: 0.5 × 9 under AdaReg, 9 without.
    const fixed = await runRecording(spec({ ops: 2, magnitude: 9 }, false), "prog");
    expect(losses(fixed)[0]).not.toBe(losses(on)[0]);
  }, 120_000);
});
