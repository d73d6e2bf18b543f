import { beforeAll, describe, expect, it } from "vitest";
import { useTestBackend } from "../helpers.ts";
import { runRecording, tinyGrowthSpec } from "./helpers.ts";

beforeAll(useTestBackend);

describe("RandAugment through the trainer", () => {
  const spec = (randAugment: { ops: number; magnitude: number } | null) =>
    tinyGrowthSpec([{ arm: "prog", adaptiveRegularization: true }], 4, { augment: { randAugment } });

  it("trains a growing arm under AdaReg with finite losses, reproducibly, and changes the batches", async () => {
    const on = await runRecording(spec({ ops: 2, magnitude: 9 }), "prog");
    const again = await runRecording(spec({ ops: 2, magnitude: 9 }), "prog");
    const off = await runRecording(spec(null), "prog");
    const losses = (run: typeof on) => run.result.history.map((h) => h.trainLoss);
    expect(losses(on)).toHaveLength(4);
    expect(losses(on).every(Number.isFinite)).toBe(true);
    expect(losses(again)).toEqual(losses(on));
    expect(losses(off)).not.toEqual(losses(on));
  }, 120_000);
});
