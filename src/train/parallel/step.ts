import * as tf from "@tensorflow/tfjs";
import { createRandom } from "../../core/random.ts";
import type { Batch } from "../../data/batch.ts";
import { FlatLayout } from "../flat.ts";
import { batchGradients, readLossAndCorrect } from "../gradients.ts";
import { applyGradients, type StepModel, type StepOptions, type StepResult } from "../step.ts";
import { splitShards } from "./gradients.ts";
import type { GradientPool } from "./pool.ts";

/**
 * One data-parallel optimizer step: the batch is cut into one shard per thread, the threads
 * compute their shards' gradients while this thread computes the first, and the flat gradients
 * are averaged (weighted by shard size) in a fixed order, so the step is deterministic. Then the
 * same `applyGradients` as a single-thread step.
 */
export async function parallelTrainStep(
  model: StepModel,
  pool: GradientPool,
  batch: Batch,
  options: StepOptions,
): Promise<StepResult> {
  const shards = splitShards(batch, Math.min(pool.size + 1, batch.size));
  // One drop-path seed per shard, drawn in order from the step's generator.
  const seeds = shards.map(() => (options.dropPath ? Math.floor(options.dropPath.random() * 2 ** 32) : 0));
  const dropPathOf = (i: number) =>
    options.dropPath ? { rate: options.dropPath.rate, seed: seeds[i] as number } : null;

  // The remote shards are sent first: on wasm the local pass runs synchronously when called.
  const layout = FlatLayout.of(model.weights);
  const packed = layout.flatten(model.weights);
  const common = {
    names: layout.entries.map((e) => e.name),
    shapes: layout.entries.map((e) => [...e.shape]),
    weights: (await packed.data()) as Float32Array,
    side: options.side,
    activeBlocks: options.activeBlocks,
    labelSmoothing: options.labelSmoothing,
  };
  packed.dispose();
  const remote = pool.compute(
    shards.slice(1).map((shard, i) => ({ ...common, shard, dropPath: dropPathOf(i + 1) })),
  );
  const firstDropPath = dropPathOf(0);
  const local = batchGradients(model.config, model.weights, shards[0] as Batch, {
    ...options,
    dropPath: firstDropPath ? { rate: firstDropPath.rate, random: createRandom(firstDropPath.seed) } : null,
  });
  const replies = await remote;

  const total = batch.size;
  const combined = tf.tidy(() => {
    let sum = tf.mul(local.flat, (shards[0] as Batch).size / total);
    replies.forEach((reply, r) => {
      sum = tf.add(sum, tf.mul(tf.tensor1d(reply.grads), (shards[r + 1] as Batch).size / total));
    });
    return sum as tf.Tensor1D;
  });
  local.flat.dispose();
  applyGradients(model, { layout: local.layout, flat: combined, updated: local.updated }, options);

  const mine = await readLossAndCorrect(local);
  const lossSum =
    mine.loss * (shards[0] as Batch).size +
    replies.reduce((s, r, i) => s + r.loss * (shards[i + 1] as Batch).size, 0);
  const correct = mine.correct + replies.reduce((s, r) => s + r.correct, 0);
  return { loss: lossSum / total, correct };
}
