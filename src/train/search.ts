import * as tf from "@tensorflow/tfjs";
import { forwardFlops } from "../core/flops.ts";
import type { Architecture } from "../core/growth-space.ts";
import type { ViTConfig } from "../model/config.ts";
import type { WeightMap } from "../model/params.ts";
import { forward } from "../model/vit.ts";
import {
  type BatchArrays,
  type BatchTensors,
  disposeBatchTensors,
  sliceBatchTensors,
  toBatchTensors,
} from "./batch-tensors.ts";
import { activeWeightNames } from "./gradients.ts";
import { smoothedCrossEntropy } from "./loss.ts";

/**
 * Candidate measurements for AutoProg's search: the loss of a weight set on the fixed, cached
 * search subset, and the cost of a training step (measured seconds or analytic FLOPs).
 */

/** The search subset as tensors at the model's full side, built once per search. */
export type SearchSubset = BatchTensors;

export function createSearchSubset(batch: BatchArrays): SearchSubset {
  return toBatchTensors(batch, batch.side);
}

export function disposeSearchSubset(subset: SearchSubset): void {
  disposeBatchTensors(subset);
}

/**
 * Cross-entropy without label smoothing of one candidate on each image of the subset, in subset
 * order: one tensor read per chunk. The paired selection compares candidates image by image.
 */
export async function candidateImageLosses(
  config: ViTConfig,
  weights: WeightMap,
  subset: SearchSubset,
  candidate: { side: number; activeBlocks: readonly boolean[] },
  chunk: number,
): Promise<Float32Array> {
  const losses = new Float32Array(subset.size);
  for (let start = 0; start < subset.size; start += chunk) {
    const size = Math.min(chunk, subset.size - start);
    const perImage = tf.tidy(() => {
      const part = sliceBatchTensors(subset, start, size, candidate.side);
      const logits = forward(config, weights, part.x, {
        side: candidate.side,
        activeBlocks: candidate.activeBlocks,
      });
      return tf.neg(tf.sum(tf.mul(part.targets, tf.logSoftmax(logits)), 1)); // [size]
    });
    losses.set(await perImage.data(), start);
    perImage.dispose();
  }
  return losses;
}

/**
 * Seconds of one forward+backward pass (no update) of a candidate on a training-size batch:
 * one warm-up, then the median of `runs`.
 */
export async function candidateStepSeconds(
  config: ViTConfig,
  weights: ReadonlyMap<string, tf.Variable>,
  subset: SearchSubset,
  candidate: { side: number; activeBlocks: readonly boolean[] },
  batchSize: number,
  runs: number,
): Promise<number> {
  const size = Math.min(batchSize, subset.size);
  const variables = activeWeightNames(weights, candidate.activeBlocks).map(
    (n) => weights.get(n) as tf.Variable,
  );
  const once = async () => {
    const start = performance.now();
    const part = sliceBatchTensors(subset, 0, size, candidate.side);
    const { value, grads } = tf.variableGrads(
      () =>
        smoothedCrossEntropy(
          forward(config, weights, part.x, { side: candidate.side, activeBlocks: candidate.activeBlocks }),
          part.targets,
          0,
        ),
      variables,
    );
    await value.data(); // wait for the backend to finish
    disposeBatchTensors(part);
    tf.dispose([value, ...Object.values(grads)]);
    return (performance.now() - start) / 1000;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

export function candidateFlops(config: ViTConfig, candidate: Architecture): number {
  return forwardFlops(config, candidate.depth, candidate.side);
}
