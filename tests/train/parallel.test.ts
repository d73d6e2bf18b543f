import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initWeights } from "../../src/model/params.ts";
import { shardGradients, splitShards } from "../../src/train/parallel/gradients.ts";
import { GradientPool } from "../../src/train/parallel/pool.ts";
import { runTraining } from "../../src/train/run.ts";
import { expectAllClose, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";
import { tinyMnistSpec } from "./helpers.ts";

beforeAll(useTestBackend);

function batchOf(size: number) {
  const side = TINY_CONFIG.imageSize;
  const x = Float32Array.from({ length: size * side * side }, (_, i) => Math.sin(i * 0.37));
  const labels = Uint8Array.from({ length: size }, (_, i) => i % TINY_CONFIG.numClasses);
  const targets = new Float32Array(size * TINY_CONFIG.numClasses);
  labels.forEach((label, i) => {
    targets[i * TINY_CONFIG.numClasses + label] = 1;
  });
  return { x, targets, labels, size, side, channels: 1, numClasses: TINY_CONFIG.numClasses };
}

describe("data-parallel gradients", () => {
  let pool: GradientPool;
  beforeAll(async () => {
    pool = await GradientPool.start(1, TINY_CONFIG, "wasm");
  });
  afterAll(async () => {
    await pool.close();
  });

  it("the size-weighted mean of shard gradients equals the full-batch gradient", async () => {
    const weights = initWeights(TINY_CONFIG, 3, 4);
    const names = [...weights.keys()];
    const tensors = [...weights.values()];
    const batch = batchOf(7);
    const options = { side: 8, activeBlocks: [true, true, true], labelSmoothing: 0.1, dropPath: null };
    const full = await shardGradients(TINY_CONFIG, names, tensors, batch, options);
    const [first, second] = splitShards(batch, 2);
    if (!first || !second) throw new Error("two shards expected");
    const mine = await shardGradients(TINY_CONFIG, names, tensors, first, options);
    const packed = new Float32Array(tensors.reduce((s, t) => s + t.size, 0));
    let offset = 0;
    for (const t of tensors) {
      packed.set((await t.data()) as Float32Array, offset);
      offset += t.size;
    }
    const [theirs] = await pool.compute([
      { names, shapes: tensors.map((t) => [...t.shape]), weights: packed, shard: second, ...options },
    ]);
    if (!theirs) throw new Error("no reply");
    offset = 0;
    for (let i = 0; i < names.length; i++) {
      const size = tensors[i]?.size ?? 0;
      const want = await values(full.grads[i] as tf.Tensor);
      const a = await values(mine.grads[i] as tf.Tensor);
      const b = Array.from(theirs.grads.subarray(offset, offset + size));
      offset += size;
      expectAllClose(
        a.map((v, j) => (v * first.size + (b[j] as number) * second.size) / batch.size),
        want,
        1e-6,
      );
    }
    expect((mine.loss * first.size + theirs.loss * second.size) / batch.size).toBeCloseTo(full.loss, 5);
    tf.dispose([...full.grads, ...mine.grads, ...tensors]);
  });
});

describe("runTraining with two threads", () => {
  it("is deterministic, trains, and leaks no tensors", async () => {
    const spec = tinyMnistSpec({ training: { epochs: 2 } });
    const before = tf.memory().numTensors;
    const a = await runTraining(spec, { workers: 2 });
    const b = await runTraining(spec, { workers: 2 });
    const single = await runTraining(spec, { workers: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(b.history.map((h) => h.trainLoss)).toEqual(a.history.map((h) => h.trainLoss));
    // Same maths, another summation order: close to the single-thread run, not identical.
    expectAllClose(
      a.history.map((h) => h.trainLoss),
      single.history.map((h) => h.trainLoss),
      1e-3,
    );
  });
});
