/**
 * The entry point that picks a loader by name. The dataset shape every loader returns lives in
 * image-dataset.ts, so the loaders do not import this file back.
 */

import { loadCifar10 } from "./cifar10.ts";
import { loadFashionMnist } from "./fashion-mnist.ts";
import type { DatasetName, ImageDataset, Split } from "./image-dataset.ts";
import { loadMnist } from "./mnist.ts";

export type { DatasetName, ImageDataset, Split };

export interface LoadOptions {
  /** Keep only the first `limit` images (a class-balanced-ish prefix); larger values keep all. */
  limit?: number;
  /** CIFAR-10 folder holding data_batch_1..5.bin and test_batch.bin. */
  root?: string;
  /** Where decoded caches go (Fashion-MNIST); default "data/cache". */
  cacheDir?: string;
}

export const DEFAULT_CACHE_DIR = "data/cache";
/** The folder name the official CIFAR-10 binary tarball extracts to. */
export const DEFAULT_CIFAR10_ROOT = "data/cifar-10-batches-bin";

export async function loadDataset(
  name: DatasetName,
  split: Split,
  options: LoadOptions = {},
): Promise<ImageDataset> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 1) || (Number.isFinite(limit) && !Number.isInteger(limit))) {
    throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
  }
  return takePrefix(await loadFull(name, split, limit, options), limit);
}

function loadFull(
  name: DatasetName,
  split: Split,
  limit: number,
  options: LoadOptions,
): Promise<ImageDataset> {
  switch (name) {
    case "mnist":
      return loadMnist(split);
    case "fashion-mnist":
      return loadFashionMnist(split, options.cacheDir ?? DEFAULT_CACHE_DIR);
    case "cifar10":
      // The limit lets CIFAR-10 skip batch files it would not use.
      return loadCifar10(split, options.root ?? DEFAULT_CIFAR10_ROOT, limit);
  }
}

/**
 * Images start..start+count-1 as views on the same memory (no copy): cheap for
 * hold-out splits, but the parent's buffers stay alive as long as the slice does.
 */
export function sliceDataset(ds: ImageDataset, start: number, count: number): ImageDataset {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0) {
    throw new RangeError(`slice start and count must be non-negative integers, got ${start}, ${count}`);
  }
  if (start + count > ds.count) {
    throw new RangeError(`slice ${start}..${start + count} is outside ${ds.name}/${ds.split} (${ds.count})`);
  }
  const imageSize = ds.height * ds.width * ds.channels;
  return {
    ...ds,
    images: ds.images.subarray(start * imageSize, (start + count) * imageSize),
    labels: ds.labels.subarray(start, start + count),
    count,
  };
}

/** Copies the first `limit` images so the rest of a large buffer can be freed. */
function takePrefix(ds: ImageDataset, limit: number): ImageDataset {
  if (limit >= ds.count) return ds;
  const imageSize = ds.height * ds.width * ds.channels;
  return {
    ...ds,
    images: ds.images.slice(0, limit * imageSize),
    labels: ds.labels.slice(0, limit),
    count: limit,
  };
}
