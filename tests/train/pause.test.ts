import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining, TrainingPaused } from "../../src/train/run.ts";
import { tinyMnistSpec } from "./helpers.ts";

/**
 * RunOptions.pause: the run stops at a step boundary inside an epoch with a checkpoint written
 * there, and a run opened on that checkpoint ends with the same bytes as one never paused
 * (wasm, the backend the tests train on).
 */
describe("pausing a run inside an epoch", () => {
  it("resumes to byte-identical final weights, optimizer and EMAs, and the same epoch totals", async () => {
    // 256 images in batches of 32: 8 steps per epoch; the pause lands mid-way through epoch 1.
    const spec = tinyMnistSpec({ trainLimit: 256, training: { epochs: 3 } });
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-straight-"));
    const pausedDir = await mkdtemp(join(tmpdir(), "autoprog-paused-"));
    const straight = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 10) });

    const pause = new AbortController();
    const firstEvents: TrainingEvent[] = [];
    const paused = runTraining(spec, {
      checkpoints: new DirectoryCheckpointStore(pausedDir, 10),
      pause: pause.signal,
      onEvent: (event) => firstEvents.push(event),
      onProgress: (p) => {
        if (p.epoch === 1 && p.stepInEpoch === 3) pause.abort();
      },
    });
    const stopped = await paused.then(
      () => null,
      (error: unknown) => error,
    );
    expect(stopped).toBeInstanceOf(TrainingPaused);
    // The step after the pause was asked for was already in flight (one step overlaps): 4 of 8.
    expect(stopped).toMatchObject({ epoch: 1, step: 8 + 4 });
    expect(firstEvents.map((e) => e.type)).not.toContain("run.failed");
    expect(firstEvents.at(-1)).toMatchObject({ type: "checkpoint.saved", epoch: 1, step: 12 });
    const meta = JSON.parse(await readFile(join(pausedDir, "epoch-0001.json"), "utf8"));
    expect(meta.epochProgress).toMatchObject({ steps: 4, seen: 128 });

    const resumedEvents: TrainingEvent[] = [];
    const resumed = await runTraining(spec, {
      checkpoints: new DirectoryCheckpointStore(pausedDir, 10),
      onEvent: (event) => resumedEvents.push(event),
    });
    expect(resumedEvents[0]).toMatchObject({ type: "run.started", startEpoch: 1 });
    const final = "epoch-0003.bin";
    const a = await readFile(join(straightDir, final));
    const b = await readFile(join(pausedDir, final));
    expect(a.equals(b)).toBe(true);
    expect(resumed.history.map((h) => [h.trainLoss, h.trainAccuracy])).toEqual(
      straight.history.map((h) => [h.trainLoss, h.trainAccuracy]),
    );
    expect(resumed.top1).toBe(straight.top1);
    const finalMeta = JSON.parse(await readFile(join(pausedDir, "epoch-0003.json"), "utf8"));
    expect(finalMeta.epochProgress).toBeNull();
  });
});
