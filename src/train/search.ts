import * as tf from "@tensorflow/tfjs";
import { forwardFlops } from "../core/flops.ts";
import type { Architecture } from "../core/growth-space.ts";
import type { Batch } from "../data/batch.ts";
import { downsample } from "../data/resize.ts";
import type { ViTConfig } from "../model/config.ts";
import type { WeightMap } from "../model/params.ts";
import { forward } from "../model/vit.ts";
import { activeWeightNames, smoothedCrossEntropy } from "./step.ts";

/**
 * Candidate measurements for AutoProg's search: the loss of a weight set on the fixed, cached
 * search subset, and the cost of a training step (measured seconds or analytic FLOPs).
 */

/** The search subset as tensors at the model's full side, built once per search. */
export interface SearchSubset {
  readonly x: tf.Tensor4D;
  readonly targets: tf.Tensor2D;
  readonly size: number;
}

export function createSearchSubset(batch: Batch): SearchSubset {
  return {
    x: tf.tensor4d(batch.x, [batch.size, batch.side, batch.side, batch.channels]),
    targets: tf.tensor2d(batch.targets, [batch.size, batch.numClasses]),
    size: batch.size,
  };
}

export function disposeSearchSubset(subset: SearchSubset): void {
  tf.dispose([subset.x, subset.targets]);
}

/** Mean cross-entropy without label smoothing of one candidate on the subset. */
export async function candidateLoss(
  config: ViTConfig,
  weights: WeightMap,
  subset: SearchSubset,
  candidate: { side: number; activeBlocks: readonly boolean[] },
  chunk: number,
): Promise<number> {
  let total = 0;
  for (let start = 0; start < subset.size; start += chunk) {
    const size = Math.min(chunk, subset.size - start);
    const loss = tf.tidy(() => {
      const full = tf.slice(subset.x, [start, 0, 0, 0], [size, -1, -1, -1]);
      const x = candidate.side === full.shape[1] ? full : downsample(full, candidate.side);
      const logits = forward(config, weights, x, {
        side: candidate.side,
        activeBlocks: candidate.activeBlocks,
      });
      const targets = tf.slice(subset.targets, [start, 0], [size, -1]);
      return tf.mul(smoothedCrossEntropy(logits, targets, 0), size);
    });
    total += (await loss.data())[0] ?? Number.NaN;
    loss.dispose();
  }
  return total / subset.size;
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
    const full = tf.slice(subset.x, [0, 0, 0, 0], [size, -1, -1, -1]);
    const x = candidate.side === full.shape[1] ? full : downsample(full, candidate.side);
    const targets = tf.slice(subset.targets, [0, 0], [size, -1]);
    const { value, grads } = tf.variableGrads(
      () =>
        smoothedCrossEntropy(
          forward(config, weights, x, { side: candidate.side, activeBlocks: candidate.activeBlocks }),
          targets as tf.Tensor2D,
          0,
        ),
      variables,
    );
    await value.data(); // wait for the backend to finish
    tf.dispose([full, x, targets, value, ...Object.values(grads)]);
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
