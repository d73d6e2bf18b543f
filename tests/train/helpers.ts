import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import { type ExperimentSpec, type ExperimentSpecInput, parseSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";

/** A real-MNIST spec small enough to train in seconds: 28 px, 7-px patches, 32 wide, 2 deep. */
export function tinyMnistSpec(
  overrides: { training?: ExperimentSpecInput["training"]; trainLimit?: number } = {},
) {
  return parseSpec({
    name: "tiny-mnist",
    dataset: { name: "mnist", trainLimit: overrides.trainLimit ?? 128, testLimit: 64 },
    model: { variant: "micro", patchSize: 7, width: 32, depth: 2, heads: 2, mlpRatio: 2 },
    training: {
      epochs: 2,
      batchSize: 32,
      lr: 2e-3,
      warmupEpochs: 0,
      evalBatchSize: 64,
      ...overrides.training,
    },
    backend: "wasm",
  });
}

/** Real MNIST, 28 px with 7-px patches, 4 blocks of width 16: growth schedules in about a second. */
export function tinyGrowthSpec(
  arms: ExperimentSpecInput["arms"],
  epochs: number,
  training: Partial<NonNullable<ExperimentSpecInput["training"]>> = {},
): ExperimentSpec {
  return parseSpec({
    name: "tiny-growth",
    dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
    model: { variant: "micro", patchSize: 7, width: 16, depth: 4, heads: 2, mlpRatio: 2 },
    training: { epochs, batchSize: 32, warmupEpochs: 0, evalBatchSize: 32, ...training },
    arms,
    backend: "wasm",
  });
}

/** Runs one arm, collecting its events, and checks that no tensor outlives the run. */
export async function runRecording(spec: ExperimentSpec, arm: string) {
  const events: TrainingEvent[] = [];
  const before = tf.memory().numTensors;
  const result = await runTraining(spec, { arm, onEvent: (e) => events.push(e) });
  expect(tf.memory().numTensors).toBe(before);
  return { result, events };
}

/** Trains `spec` with checkpoints in `dir` and cancels it once the checkpoint after `epochs` epochs is saved. */
export async function runUntilCheckpoint(spec: ExperimentSpec, dir: string, epochs: number): Promise<void> {
  const controller = new AbortController();
  await expect(
    runTraining(spec, {
      checkpoints: new DirectoryCheckpointStore(dir, 20),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "checkpoint.saved" && e.epoch === epochs) controller.abort();
      },
    }),
  ).rejects.toMatchObject({ reason: "cancelled" });
}
