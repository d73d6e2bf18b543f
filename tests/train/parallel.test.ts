import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initWeights } from "../../src/model/params.ts";
import { FlatLayout } from "../../src/train/flat.ts";
import { type BatchGradients, batchGradients, readLossAndCorrect } from "../../src/train/gradients.ts";
import { splitShards } from "../../src/train/parallel/gradients.ts";
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
    const layout = FlatLayout.of(weights);
    const batch = batchOf(7);
    const options = { side: 8, activeBlocks: [true, false, true], labelSmoothing: 0.1, dropPath: null };
    const read = async (g: BatchGradients) => ({
      grads: await values(g.flat),
      ...(await readLossAndCorrect(g)),
    });
    const full = batchGradients(TINY_CONFIG, weights, batch, options);
    expect(full.updated).toEqual(layout.entries.map((e) => e.name).filter((n) => !n.startsWith("blocks.1.")));
    const want = await read(full);
    const [first, second] = splitShards(batch, 2);
    if (!first || !second) throw new Error("two shards expected");
    const mineGradients = batchGradients(TINY_CONFIG, weights, first, options);
    const mine = await read(mineGradients);
    const packed = layout.flatten(weights);
    const [theirs] = await pool.compute([
      {
        names: layout.entries.map((e) => e.name),
        shapes: layout.entries.map((e) => [...e.shape]),
        weights: (await packed.data()) as Float32Array,
        shard: second,
        ...options,
      },
    ]);
    if (!theirs) throw new Error("no reply");
    expect(theirs.grads.length).toBe(layout.size);
    expectAllClose(
      mine.grads.map((v, j) => (v * first.size + (theirs.grads[j] as number) * second.size) / batch.size),
      want.grads,
      1e-6,
    );
    // Inactive block 1 gets exactly zero.
    const block1 = layout.entry("blocks.1.mlp.fc1.w");
    expect(want.grads.slice(block1.offset, block1.offset + block1.size).every((v) => v === 0)).toBe(true);
    expect((mine.loss * first.size + theirs.loss * second.size) / batch.size).toBeCloseTo(want.loss, 5);
    tf.dispose([full.flat, mineGradients.flat, packed, ...weights.values()]);
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
