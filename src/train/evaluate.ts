import * as tf from "@tensorflow/tfjs";
import { createRandom } from "../core/random.ts";
import { makeBatch } from "../data/batch.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { ViTConfig } from "../model/config.ts";
import type { WeightMap } from "../model/params.ts";
import { forward } from "../model/vit.ts";
import { type BatchTensors, disposeBatchTensors, toBatchTensors } from "./batch-tensors.ts";

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
  for (let start = 0; start < dataset.count; start += options.batchSize) {
    const size = Math.min(options.batchSize, dataset.count - start);
    const indices = Int32Array.from({ length: size }, (_, i) => start + i);
    const tensors = evaluationBatch(config, dataset, indices, options.side);
    for (const target of targets) {
      const [hits, loss] = tf.tidy(() => {
        const logits = evaluationLogits(config, target.weights, tensors, options);
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

/**
 * Images `indices` of `dataset` as evaluation feeds them to the model: no augmentation, built at
 * the model's side (or the larger test side) and down-sampled to `side`, as in training.
 * Release with `disposeBatchTensors`.
 */
export function evaluationBatch(
  config: ViTConfig,
  dataset: ImageDataset,
  indices: Int32Array,
  side: number,
): BatchTensors {
  const unused = createRandom(0); // evaluation batches draw no random numbers
  const batch = makeBatch(dataset, indices, {
    side: Math.max(config.imageSize, side),
    augment: null,
    random: unused,
  });
  return toBatchTensors(batch, side);
}

/** The logits [B, classes] evaluation scores: the forward pass without drop-path. */
export function evaluationLogits(
  config: ViTConfig,
  weights: WeightMap,
  batch: BatchTensors,
  options: Pick<EvaluationOptions, "side" | "activeBlocks">,
): tf.Tensor2D {
  return forward(config, weights, batch.x, { side: options.side, activeBlocks: options.activeBlocks });
}
