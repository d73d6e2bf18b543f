/**
 * The one in-memory image dataset shape every loader returns. Pixels stay as bytes (HWC,
 * 0..255) until a batch is built, so a 60k-image split costs 47 MB instead of 188 MB of floats.
 */
export type DatasetName = "mnist" | "fashion-mnist" | "cifar10";
export type Split = "train" | "test";

export interface ImageDataset {
  readonly name: DatasetName;
  readonly split: Split;
  /** [count, height, width, channels], HWC, 0..255. */
  readonly images: Uint8Array;
  /** [count], 0..numClasses-1. */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  /** Per-channel statistics of the train split on the [0, 1] scale, used for normalisation. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}
