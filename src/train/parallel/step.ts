import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../../data/batch.ts";
import { clipByGlobalNorm } from "../adamw.ts";
import { updateEma } from "../ema.ts";
import { activeWeightNames, type StepModel, type StepOptions, type StepResult } from "../step.ts";
import { shardGradients, splitShards } from "./gradients.ts";
import type { GradientPool } from "./pool.ts";

/**
 * One data-parallel optimizer step: the batch is cut into one shard per thread, the threads
 * compute their shards' gradients while this thread computes the first, and the gradients are
 * averaged (weighted by shard size) in a fixed order, so the step is deterministic. Then the
 * same clipping, AdamW and EMA updates as a single-thread step.
 */
export async function parallelTrainStep(
  model: StepModel,
  pool: GradientPool,
  batch: Batch,
  options: StepOptions,
): Promise<StepResult> {
  const names = activeWeightNames(model.weights, options.activeBlocks);
  const weights = names.map((name) => model.weights.get(name) as tf.Variable);
  const shards = splitShards(batch, Math.min(pool.size + 1, batch.size));
  // One drop-path seed per shard, drawn in order from the step's generator.
  const seeds = shards.map(() => (options.dropPath ? Math.floor(options.dropPath.random() * 2 ** 32) : 0));
  const dropPathOf = (i: number) =>
    options.dropPath ? { rate: options.dropPath.rate, seed: seeds[i] as number } : null;

  const sizes = weights.map((w) => w.size);
  const packed = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let offset = 0;
  for (const w of weights) {
    packed.set((await w.data()) as Float32Array, offset);
    offset += w.size;
  }
  const common = {
    names,
    shapes: weights.map((w) => [...w.shape]),
    weights: packed,
    side: options.side,
    activeBlocks: options.activeBlocks,
    labelSmoothing: options.labelSmoothing,
  };
  const remote = pool.compute(
    shards.slice(1).map((shard, i) => ({ ...common, shard, dropPath: dropPathOf(i + 1) })),
  );
  const local = await shardGradients(model.config, names, weights, shards[0] as Batch, {
    ...common,
    dropPath: dropPathOf(0),
  });
  const replies = await remote;

  const total = batch.size;
  const combined: tf.NamedTensorMap = {};
  tf.tidy(() => {
    let start = 0;
    const starts = sizes.map((size) => {
      const s = start;
      start += size;
      return s;
    });
    names.forEach((name, i) => {
      let sum = tf.mul(local.grads[i] as tf.Tensor, (shards[0] as Batch).size / total);
      replies.forEach((reply, r) => {
        const part = reply.grads.subarray(starts[i] as number, (starts[i] as number) + (sizes[i] as number));
        const grad = tf.tensor(part, (weights[i] as tf.Tensor).shape);
        sum = tf.add(sum, tf.mul(grad, (shards[r + 1] as Batch).size / total));
      });
      combined[name] = tf.keep(sum);
    });
  });
  tf.dispose(local.grads);
  const applied = options.gradClipNorm === null ? combined : clipByGlobalNorm(combined, options.gradClipNorm);
  model.optimizer.apply(model.weights, applied, options.lr);
  for (const ema of model.emas) updateEma(ema, model.weights);
  tf.dispose(Object.values(combined));
  if (applied !== combined) tf.dispose(Object.values(applied));

  const lossSum =
    local.loss * (shards[0] as Batch).size +
    replies.reduce((s, r, i) => s + r.loss * (shards[i + 1] as Batch).size, 0);
  const correct = local.correct + replies.reduce((s, r) => s + r.correct, 0);
  return { loss: lossSum / total, correct };
}
