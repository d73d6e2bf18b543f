import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import {
  MEMORY_CHECK_EVERY_STEPS,
  MEMORY_GUARD_SLACK_BYTES,
  memoryExceeded,
  memoryGuardFor,
} from "../../src/train/memory-guard.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { tinyMnistSpec } from "./helpers.ts";

beforeAll(useTestBackend);

// 20 steps per epoch: the guard looks before steps 1 and 11 of each.
const spec = tinyMnistSpec({ trainLimit: 640, training: { epochs: 1, batchSize: 32 } });
const arm = spec.arms[0];
if (!arm) throw new Error("the spec has no arm");
const estimate = memoryGuardFor(spec, arm).estimateBytes;

describe("memory guard", () => {
  it("allows twice the estimate plus slack by default, and says why it stops", () => {
    const guard = memoryGuardFor(spec, arm);
    expect(guard.limitBytes).toBe(2 * estimate + MEMORY_GUARD_SLACK_BYTES);
    expect(memoryExceeded(guard, guard.limitBytes)).toBeNull();
    expect(memoryExceeded(guard, guard.limitBytes + 1)).toMatch(/held .* GB of tensors, past its limit of/);
  });

  it("lets a run whose tensors stay within its estimate finish", async () => {
    // Between steps a run holds its state, well under the estimated peak.
    const result = await runTraining(spec, { memoryLimitBytes: estimate });
    expect(result.epochs).toBe(1);
  });

  it("stops a run that grows past its limit with out_of_memory, releasing its tensors", async () => {
    const before = tf.memory().numTensors;
    const leaked: tf.Tensor[] = [];
    const events: TrainingEvent[] = [];
    const leak = Math.ceil(estimate / 4 / 4); // a quarter of the estimate per step, in float32s
    const run = runTraining(spec, {
      memoryLimitBytes: estimate,
      onEvent: (e) => events.push(e),
      onProgress: () => leaked.push(tf.zeros([leak])),
    });
    await expect(run).rejects.toMatchObject({ reason: "out_of_memory" });
    const failed = events.at(-1);
    expect(failed).toMatchObject({ type: "run.failed", reason: "out_of_memory", epoch: 0 });
    expect(failed?.type === "run.failed" && failed.message).toMatch(
      new RegExp(
        `past its limit of .* GB \\(the run's estimate is .* GB\\).*step ${MEMORY_CHECK_EVERY_STEPS + 1}\\)$`,
      ),
    );
    tf.dispose(leaked);
    expect(tf.memory().numTensors).toBe(before);
  });
});
