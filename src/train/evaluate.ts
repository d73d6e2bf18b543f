import * as tf from "@tensorflow/tfjs";
import { createRandom } from "../core/random.ts";
import { makeBatch } from "../data/batch.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { ViTConfig } from "../model/config.ts";
import type { WeightMap } from "../model/params.ts";
import { forward } from "../model/vit.ts";
import { disposeBatchTensors, toBatchTensors } from "./batch-tensors.ts";

export interface EvaluationTarget {
  readonly name: string;
  readonly weights: WeightMap;
}

export interface EvaluationOptions {
  readonly side: number;
  readonly activeBlocks: readonly boolean[];
  readonly batchSize: number;
}

export interface Score {
  /** Fraction of images whose top-1 class is right. */
  readonly top1: number;
  /** Mean cross-entropy without label smoothing. */
  readonly loss: number;
}

/**
 * Top-1 and loss of several weight sets (online model, EMA copies) on one dataset. Each batch
 * is built once and shared by all targets.
 */
export async function evaluate(
  config: ViTConfig,
  targets: readonly EvaluationTarget[],
  dataset: ImageDataset,
  options: EvaluationOptions,
): Promise<Record<string, Score>> {
  const correct = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const lossSum = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const unused = createRandom(0); // evaluation batches draw no random numbers
  for (let start = 0; start < dataset.count; start += options.batchSize) {
    const size = Math.min(options.batchSize, dataset.count - start);
    const indices = Int32Array.from({ length: size }, (_, i) => start + i);
    // Build at the model's side (or the larger test side) and down-sample, as in training.
    const buildSide = Math.max(config.imageSize, options.side);
    const batch = makeBatch(dataset, indices, { side: buildSide, augment: null, random: unused });
    const tensors = toBatchTensors(batch, options.side);
    for (const target of targets) {
      const [hits, loss] = tf.tidy(() => {
        const logits = forward(config, target.weights, tensors.x, {
          side: options.side,
          activeBlocks: options.activeBlocks,
        });
        const hitCount = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tensors.labels), "float32"));
        const lossTotal = tf.neg(tf.sum(tf.mul(tensors.targets, tf.logSoftmax(logits))));
        return [hitCount, lossTotal];
      });
      const [hitValue, lossValue] = await Promise.all([hits.data(), loss.data()]);
      hits.dispose();
      loss.dispose();
      correct.set(target.name, (correct.get(target.name) ?? 0) + (hitValue[0] ?? 0));
      lossSum.set(target.name, (lossSum.get(target.name) ?? 0) + (lossValue[0] ?? 0));
    }
    disposeBatchTensors(tensors);
  }
  const scores: Record<string, Score> = {};
  for (const target of targets) {
    scores[target.name] = {
      top1: (correct.get(target.name) ?? 0) / dataset.count,
      loss: (lossSum.get(target.name) ?? 0) / dataset.count,
    };
  }
  return scores;
}
