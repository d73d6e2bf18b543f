import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExperimentSpecInput } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { runRecording, tinyGrowthSpec } from "./helpers.ts";

beforeAll(useTestBackend);

/** A tiny real-MNIST autoprog spec: 4 stages of 2 epochs, 1 supernet epoch each, FLOPs cost. */
function spec(arms: ExperimentSpecInput["arms"], epochs = 8) {
  return tinyGrowthSpec(arms, epochs, { evalEvery: 4 });
}

const autoprog = {
  arm: "autoprog" as const,
  supernetEpochs: 1,
  search: { cost: "flops" as const, subsetSize: 32 },
};

const run = runRecording;

describe("AutoProg end to end on a tiny MNIST slice", () => {
  it("finishes with K stages, the full model last, and a search record for every searched stage", async () => {
    const { result, events } = await run(spec([autoprog]), "autoprog");
    expect(result.stages).toHaveLength(4);
    expect(result.stages.at(-1)).toMatchObject({ depth: 4, side: 28 });
    const searched = events.filter((e) => e.type === "stage.search.completed");
    expect(searched.length).toBeGreaterThanOrEqual(1);
    expect(result.search).toHaveLength(searched.length);
    for (const record of result.search) {
      expect(record.candidates.filter((c) => c.chosen)).toHaveLength(1);
      // The default rule is the paired one; the winner is the cheapest candidate tied with the best.
      expect(record).toMatchObject({ selection: "paired", z: 2 });
      const tied = record.candidates.filter((c) => c.tied);
      const chosen = record.candidates.find((c) => c.chosen);
      expect(chosen?.tied).toBe(true);
      expect(chosen?.cost).toBe(Math.min(...tied.map((c) => c.cost)));
      expect(record.candidates.some((c) => c.meanDifference === 0 && c.tied)).toBe(true);
      for (const c of record.candidates) {
        expect(Number.isFinite(c.loss) && c.loss > 0).toBe(true);
        expect(c.cost).toBeGreaterThan(0);
      }
      const stage = result.stages[record.stage];
      expect(stage).toMatchObject({ depth: record.winner.depth, side: record.winner.side });
    }
    // Stage 0 searches the 3×3 grid; with 7-px patches on 28 px the sides 14/14/28/28 collapse
    // to two distinct values, leaving 2 × 3 candidates.
    expect(result.search[0]?.candidates).toHaveLength(6);
    const supernetEpochs = result.history.filter((h) => h.phase === "supernet");
    expect(supernetEpochs.length).toBe(result.search.length);
    // A supernet epoch reports the largest candidate it trained, not the winner picked after it.
    for (const [i, record] of result.search.entries()) {
      const largest = Math.max(...record.candidates.map((c) => c.depth));
      expect(supernetEpochs[i]?.architecture.depth).toBe(largest);
    }
    expect(result.searchSeconds).toBeGreaterThan(0);
    expect(result.supernetSeconds).toBeGreaterThan(0);
    expect(result.flopsPerStepMean).toBeLessThanOrEqual(result.flopsFull);
    // The schedule replays as a fixed arm.
    expect(spec([{ arm: "fixed", schedule: [...result.schedule] }]).arms[0]).toMatchObject({ arm: "fixed" });
  });

  it("picks the same schedule twice with cost: flops and the same seed", async () => {
    const first = await run(spec([autoprog], 4), "autoprog");
    const second = await run(spec([autoprog], 4), "autoprog");
    expect(second.result.schedule).toEqual(first.result.schedule);
    expect(second.result.search.map((s) => s.candidates.map((c) => c.loss))).toEqual(
      first.result.search.map((s) => s.candidates.map((c) => c.loss)),
    );
  });

  it("supernet arm trains Ω_0 for the whole run and ends as the full model", async () => {
    const { result } = await run(spec([{ arm: "supernet" }], 4), "supernet");
    expect(result.stages).toEqual([expect.objectContaining({ depth: 4, side: 28, epochs: 4 })]);
    expect(result.history.every((h) => h.phase === "supernet")).toBe(true);
    expect(result.flopsPerStepMean).toBeLessThan(result.flopsFull);
  });
});

describe("AutoProg resume", () => {
  it("resumes mid-supernet from a checkpoint to exactly the weights of an uninterrupted run", async () => {
    const s = spec([{ ...autoprog, supernetEpochs: 2 }], 8);
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-ap-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-ap-resumed-"));
    const straight = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(straightDir, 20) });
    const controller = new AbortController();
    await expect(
      runTraining(s, {
        checkpoints: new DirectoryCheckpointStore(resumedDir, 20),
        signal: controller.signal,
        onEvent: (e) => {
          // Epoch 1 ends inside stage 0's two supernet epochs.
          if (e.type === "checkpoint.saved" && e.epoch === 1) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ reason: "cancelled" });
    const resumed = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(resumedDir, 20) });
    const a = await readFile(join(straightDir, "epoch-0008.bin"));
    const b = await readFile(join(resumedDir, "epoch-0008.bin"));
    expect(a.equals(b)).toBe(true);
    expect(resumed.schedule).toEqual(straight.schedule);
    expect(resumed.search.map((r) => r.candidates.map((c) => c.loss))).toEqual(
      straight.search.map((r) => r.candidates.map((c) => c.loss)),
    );
  });
});
