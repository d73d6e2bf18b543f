import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type ExperimentSpecInput, parseSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { runRecording, runUntilCheckpoint } from "./helpers.ts";

beforeAll(useTestBackend);

/** Real Fashion-MNIST at 28 px, resnet-micro narrowed to 8/16/32 channels (full depth [2, 2, 2]). */
function resnetSpec(arms: ExperimentSpecInput["arms"], epochs = 4) {
  return parseSpec({
    name: "tiny-resnet",
    dataset: { name: "fashion-mnist", trainLimit: 32, testLimit: 16 },
    model: { family: "resnet", variant: "micro", width: 32 },
    training: { epochs, batchSize: 16, warmupEpochs: 0, evalBatchSize: 16, evalEvery: epochs, dropPath: 0.1 },
    arms,
    backend: "wasm",
  });
}

describe("ResNet through the trainer", () => {
  it("autoprog searches, grows every stage and ends as the full ResNet", async () => {
    const spec = resnetSpec([
      { arm: "autoprog", supernetEpochs: 1, search: { cost: "flops", subsetSize: 16 } },
    ]);
    const { result, events } = await runRecording(spec, "autoprog");
    expect(result.schedule.at(-1)).toMatchObject({ depth: 6, side: 28 });
    expect(result.search.length).toBeGreaterThan(0);
    expect(Number.isFinite(result.top1)).toBe(true);
    expect(events.some((e) => e.type === "run.completed")).toBe(true);
  }, 300_000);

  it("original and fixed train the full ResNet to a finite loss", async () => {
    const schedule = [3, 4, 5, 6].map((depth) => ({ depth, side: 4 * depth + 4 }));
    const spec = resnetSpec([{ arm: "original" }, { arm: "fixed", schedule }]);
    for (const arm of ["original", "fixed"]) {
      const { result, events } = await runRecording(spec, arm);
      expect(Number.isFinite(result.top1), arm).toBe(true);
      const losses = events.flatMap((e) => (e.type === "epoch.completed" ? [e.trainLoss] : []));
      expect(losses.length, arm).toBeGreaterThan(0);
      expect(losses.every(Number.isFinite), arm).toBe(true);
    }
  }, 300_000);

  it("resumes prog from a checkpoint to exactly the weights of an uninterrupted run (the ResNet shape survives the meta)", async () => {
    for (const operator of ["identity", "mogrow"] as const) {
      const spec = resnetSpec([{ arm: "prog", operator }]);
      const straightDir = await mkdtemp(join(tmpdir(), "autoprog-resnet-straight-"));
      const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-resnet-resumed-"));
      await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 20) });
      await runUntilCheckpoint(spec, resumedDir, 2);
      await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(resumedDir, 20) });
      const a = await readFile(join(straightDir, "epoch-0004.bin"));
      const b = await readFile(join(resumedDir, "epoch-0004.bin"));
      expect(a.equals(b), operator).toBe(true);
    }
  }, 300_000);
});
