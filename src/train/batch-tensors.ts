import * as tf from "@tensorflow/tfjs";
import { downsample } from "../data/resize.ts";

/** The typed arrays of a batch (a whole batch, a shard of one, or the search subset). */
export interface BatchArrays {
  readonly x: Float32Array;
  readonly targets: Float32Array;
  readonly labels: Uint8Array;
  readonly size: number;
  readonly side: number;
  readonly channels: number;
  readonly numClasses: number;
}

/** A batch on the backend, at the side a pass runs at. */
export interface BatchTensors {
  /** [B, side, side, C] */
  readonly x: tf.Tensor4D;
  /** [B, classes] target distribution. */
  readonly targets: tf.Tensor2D;
  /** [B] hard labels. */
  readonly labels: tf.Tensor1D;
  readonly size: number;
}

/**
 * The one place a batch becomes tensors: uploaded at its own side and down-sampled to the pass's
 * side (token growth). Release with `disposeBatchTensors`.
 */
export function toBatchTensors(batch: BatchArrays, side: number): BatchTensors {
  return tf.tidy(() => {
    const full = tf.tensor4d(batch.x, [batch.size, batch.side, batch.side, batch.channels]);
    return {
      x: side === batch.side ? full : downsample(full, side),
      targets: tf.tensor2d(batch.targets, [batch.size, batch.numClasses]),
      labels: tf.tensor1d(batch.labels, "int32"),
      size: batch.size,
    };
  });
}

/** Rows [start, start + size) of batch tensors already on the backend, down-sampled to `side`. */
export function sliceBatchTensors(
  batch: BatchTensors,
  start: number,
  size: number,
  side: number,
): BatchTensors {
  return tf.tidy(() => {
    const full = tf.slice(batch.x, [start, 0, 0, 0], [size, -1, -1, -1]);
    return {
      x: side === full.shape[1] ? full : downsample(full, side),
      targets: tf.slice(batch.targets, [start, 0], [size, -1]),
      labels: tf.slice(batch.labels, [start], [size]),
      size,
    };
  });
}

export function disposeBatchTensors(batch: BatchTensors): void {
  tf.dispose([batch.x, batch.targets, batch.labels]);
}
