import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { runUntilCheckpoint, tinyMnistSpec } from "./helpers.ts";

beforeAll(useTestBackend);

describe("runTraining on real MNIST", () => {
  it("overfits 64 images to at least 95% train accuracy", async () => {
    const spec = tinyMnistSpec({
      trainLimit: 64,
      training: {
        epochs: 60,
        batchSize: 64,
        lr: 3e-3,
        weightDecay: 0,
        labelSmoothing: 0,
        augment: { cropPadding: 0 },
        ema: [],
      },
    });
    const result = await runTraining(spec);
    const last = result.history.at(-1);
    expect(last?.trainAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.epochs).toBe(60);
  });

  it("keeps tf.memory().numTensors constant across steps and epochs", async () => {
    const counts: Record<string, number> = {};
    const before = tf.memory().numTensors;
    await runTraining(tinyMnistSpec({ trainLimit: 640, training: { epochs: 2, batchSize: 32 } }), {
      onProgress: (p) => {
        const key = `${p.epoch}:${p.stepInEpoch}`;
        // Mid-epoch points, each with the next step in flight (the last step of an epoch has none).
        if (key === "0:2" || key === "0:15" || key === "1:15") counts[key] = tf.memory().numTensors;
      },
      onEvent: (e) => {
        if (e.type === "epoch.completed") counts[`end${e.epoch}`] = tf.memory().numTensors;
      },
    });
    expect(counts["0:15"]).toBe(counts["0:2"]);
    expect(counts["1:15"]).toBe(counts["0:2"]);
    // At an epoch's end the EMAs' per-weight views, cut out for evaluation, are cached until the
    // next update: more tensors than mid-epoch, but the same number at every epoch's end.
    expect(counts.end1).toBe(counts.end0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("emits the typed events in order and reports FLOPs, backend and history", async () => {
    const events: TrainingEvent[] = [];
    const result = await runTraining(tinyMnistSpec(), { onEvent: (e) => events.push(e) });
    expect(events.map((e) => e.type)).toEqual([
      "run.started",
      "stage.started",
      "epoch.completed",
      "epoch.completed",
      "run.completed",
    ]);
    expect(result.stages).toHaveLength(1);
    expect(result.schedule).toEqual([{ depth: 2, side: 28 }]);
    expect(result.backend.name).toBe("wasm");
    expect(result.flopsPerStepMean).toBe(result.flopsFull);
    expect(result.history).toHaveLength(2);
    expect(result.top1).toBeGreaterThan(0);
    expect(Object.keys(result.history[0]?.evaluation?.ema ?? {})).toEqual(["fast", "slow"]);
  });

  it("resumes from a checkpoint to exactly the weights of an uninterrupted run", async () => {
    const spec = tinyMnistSpec({ training: { epochs: 3 } });
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-resumed-"));
    const straight = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 10) });

    await runUntilCheckpoint(spec, resumedDir, 1);
    const events: TrainingEvent[] = [];
    const resumed = await runTraining(spec, {
      checkpoints: new DirectoryCheckpointStore(resumedDir, 10),
      onEvent: (e) => events.push(e),
    });
    expect(events[0]).toMatchObject({ type: "run.started", startEpoch: 1 });
    const final = "epoch-0003.bin";
    const a = await readFile(join(straightDir, final));
    const b = await readFile(join(resumedDir, final));
    expect(a.equals(b)).toBe(true);
    expect(resumed.history.map((h) => h.trainLoss)).toEqual(straight.history.map((h) => h.trainLoss));
    expect(resumed.top1).toBe(straight.top1);
  });

  it("fails with failed_setup when the spec requires a GPU and none is present", async () => {
    const events: TrainingEvent[] = [];
    const spec = { ...tinyMnistSpec(), requireGpu: true };
    await expect(runTraining(spec, { onEvent: (e) => events.push(e) })).rejects.toMatchObject({
      reason: "failed_setup",
    });
    expect(events).toEqual([expect.objectContaining({ type: "run.failed", reason: "failed_setup" })]);
  });

  it("stops with non_finite_loss when the loss diverges", async () => {
    const spec = tinyMnistSpec({ training: { lr: 1, warmupEpochs: 0, epochs: 3 } });
    const poisoned = { ...spec, training: { ...spec.training, lr: 1e30, minLr: 1e30 } };
    await expect(runTraining(poisoned)).rejects.toMatchObject({ reason: "non_finite_loss" });
  });
});
