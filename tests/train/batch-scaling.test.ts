import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stageBatchSize } from "../../src/core/batch-scaling.ts";
import { parseSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { runRecording, runUntilCheckpoint, tinyGrowthSpec } from "./helpers.ts";

beforeAll(useTestBackend);

/** prog on 256 real MNIST images, batch 32: stage 0 (2@14) costs a sixth of the full 4@28. */
function progSpec(batchScaling?: { maxBatch: number }) {
  return parseSpec({
    name: "tiny-batch-scaling",
    dataset: { name: "mnist", trainLimit: 256, testLimit: 32 },
    model: { variant: "micro", patchSize: 7, width: 16, depth: 4, heads: 2, mlpRatio: 2 },
    training: { epochs: 4, batchSize: 32, warmupEpochs: 1, evalBatchSize: 32, batchScaling },
    arms: [{ arm: "prog" }],
    backend: "wasm",
  });
}

describe("batch scaling in small stages", () => {
  it("trains small stages with a larger batch and fewer steps, the full stage at the base batch", async () => {
    const { result } = await runRecording(progSpec({ maxBatch: 128 }), "prog");
    const { result: fixed } = await runRecording(progSpec(), "prog");
    expect(fixed.history.map((h) => [h.batchSize, h.steps])).toEqual([
      [32, 8],
      [32, 8],
      [32, 8],
      [32, 8],
    ]);
    const batches = result.history.map((h) => h.batchSize);
    // 2@14 and 3@14 are capped at 128; 3@28 costs ¾ of 4@28: 32 × 4/3 → 40 (a multiple of 8).
    expect(batches).toEqual([128, 128, 40, 32]);
    // Every image once per epoch, but the last incomplete batch.
    expect(result.history.map((h) => h.steps)).toEqual(batches.map((b) => Math.floor(256 / b)));
    expect(result.steps).toBeLessThan(fixed.steps);
    expect(result.history.every((h) => Number.isFinite(h.trainLoss))).toBe(true);
    expect(result.top1).toBeGreaterThan(0);
    // Per image about the same FLOPs as the fixed-batch run (a large batch drops a different
    // remainder of the epoch): only the step count changed.
    expect(Math.abs(result.flopsPerStepMean / fixed.flopsPerStepMean - 1)).toBeLessThan(0.02);
  });

  it("resumes from a mid-run checkpoint to exactly the weights of an uninterrupted run", async () => {
    const spec = progSpec({ maxBatch: 128 });
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-bs-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-bs-resumed-"));
    const straight = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 10) });
    await runUntilCheckpoint(spec, resumedDir, 1);
    const resumed = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(resumedDir, 10) });
    const a = await readFile(join(straightDir, "epoch-0004.bin"));
    const b = await readFile(join(resumedDir, "epoch-0004.bin"));
    expect(a.equals(b)).toBe(true);
    expect(resumed.history.map((h) => [h.batchSize, h.lr, h.trainLoss])).toEqual(
      straight.history.map((h) => [h.batchSize, h.lr, h.trainLoss]),
    );
  });

  it("keeps AutoProg's supernet epochs at the base batch and scales the winners it trains", async () => {
    const autoprog = {
      arm: "autoprog" as const,
      supernetEpochs: 1,
      search: { cost: "flops" as const, subsetSize: 32 },
    };
    const spec = tinyGrowthSpec([autoprog], 8, { evalEvery: 4, batchScaling: {} });
    const { result } = await runRecording(spec, "autoprog");
    const options = { maxBatch: 128, multiple: 8, lrScaling: "sqrt" as const };
    for (const h of result.history) {
      const stageBatch = stageBatchSize(
        { baseBatch: 32, flopsPerImage: h.flopsPerImage, flopsFull: result.flopsFull, trainImages: 64 },
        options,
      );
      expect(h.batchSize).toBe(h.phase === "supernet" ? 32 : stageBatch);
      expect(h.steps).toBe(Math.floor(64 / h.batchSize));
    }
    expect(result.history.at(-1)?.batchSize).toBe(32);
    // Here every winner is 4@14 (under a third of the full FLOPs): capped at the 64-image slice.
    expect(result.history.filter((h) => h.phase === "train").map((h) => h.batchSize)).toContain(64);
    expect(result.top1).toBeGreaterThan(0);
  });
});
