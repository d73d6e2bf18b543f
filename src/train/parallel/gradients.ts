import * as tf from "@tensorflow/tfjs";
import { createRandom } from "../../core/random.ts";
import { downsample } from "../../data/resize.ts";
import type { ViTConfig } from "../../model/config.ts";
import { forward } from "../../model/vit.ts";
import { smoothedCrossEntropy } from "../step.ts";
import type { ShardData } from "./protocol.ts";

export interface ShardGradients {
  /** One gradient per weight, in the order of the weights given. */
  readonly grads: tf.Tensor[];
  readonly loss: number;
  readonly correct: number;
}

/**
 * Gradients of the mean loss over one shard of a batch with respect to the given weight
 * tensors (the same computation on the trainer and on every gradient thread).
 */
export async function shardGradients(
  config: ViTConfig,
  names: readonly string[],
  weights: readonly tf.Tensor[],
  shard: ShardData,
  options: {
    side: number;
    activeBlocks: readonly boolean[];
    labelSmoothing: number;
    dropPath: { rate: number; seed: number } | null;
  },
): Promise<ShardGradients> {
  const full = tf.tensor4d(shard.x, [shard.size, shard.side, shard.side, shard.channels]);
  const x = options.side === shard.side ? full : downsample(full, options.side);
  const targets = tf.tensor2d(shard.targets, [shard.size, shard.numClasses]);
  const labels = tf.tensor1d(shard.labels, "int32");
  const dropPath = options.dropPath
    ? { rate: options.dropPath.rate, random: createRandom(options.dropPath.seed) }
    : null;
  let correct: tf.Scalar | null = null;
  const lossAndGrads = tf.valueAndGrads((...tensors: tf.Tensor[]) => {
    const map = new Map(names.map((name, i) => [name, tensors[i] as tf.Tensor]));
    const logits = forward(config, map, x, {
      side: options.side,
      activeBlocks: options.activeBlocks,
      ...(dropPath ? { dropPath } : {}),
    });
    correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32"))) as tf.Scalar;
    return smoothedCrossEntropy(logits, targets, options.labelSmoothing);
  });
  const { value, grads } = lossAndGrads([...weights]);
  const correctTensor = correct as tf.Scalar | null;
  const [lossValue, correctValue] = await Promise.all([
    value.data(),
    correctTensor ? correctTensor.data() : [0],
  ]);
  tf.dispose([full, x, targets, labels, value, correctTensor ?? []]);
  return { grads, loss: lossValue[0] ?? Number.NaN, correct: correctValue[0] ?? 0 };
}

/** Splits a batch into `parts` contiguous shards of near-equal size. */
export function splitShards(batch: ShardData, parts: number): ShardData[] {
  const shards: ShardData[] = [];
  const pixels = batch.side * batch.side * batch.channels;
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const size = Math.floor(batch.size / parts) + (p < batch.size % parts ? 1 : 0);
    shards.push({
      x: batch.x.slice(start * pixels, (start + size) * pixels),
      targets: batch.targets.slice(start * batch.numClasses, (start + size) * batch.numClasses),
      labels: batch.labels.slice(start, start + size),
      size,
      side: batch.side,
      channels: batch.channels,
      numClasses: batch.numClasses,
    });
    start += size;
  }
  return shards;
}
