/**
 * Turns dataset indices into one model-ready batch: augment (training only) at the
 * dataset's native size, resize to the model's full input side, normalise, erase, mix.
 * Everything runs on typed arrays; the caller makes tensors from the result.
 */

import type { Random } from "../core/random.ts";
import { type AugmentOptions, cropAndFlip, randomErase, validateAugment } from "./augment.ts";
import { resizeBilinear } from "./bilinear.ts";
import type { ImageDataset } from "./dataset.ts";
import { mixBatch } from "./mix.ts";
import { RandAugmenter } from "./rand-augment.ts";

export interface Batch {
  /** [size, side, side, channels], normalised with the dataset's mean/std. */
  x: Float32Array;
  /** [size, numClasses] target distribution: one-hot, or mixed by mixup/cutmix. */
  targets: Float32Array;
  /** [size] hard labels (before mixing). */
  labels: Uint8Array;
  size: number;
  side: number;
  channels: number;
  numClasses: number;
}

export interface MakeBatchOptions {
  /** The model's full input side; images of another size are resized bilinearly. */
  side: number;
  /** null = evaluation: no augmentation, deterministic, `random` is not used. */
  augment: AugmentOptions | null;
  random: Random;
}

/**
 * Random numbers are drawn image by image (crop, flip, RandAugment, erase), then once for the batch
 * (mix), so a batch is a pure function of (dataset, indices, options, random's seed).
 */
export function makeBatch(ds: ImageDataset, indices: Int32Array, options: MakeBatchOptions): Batch {
  const { side, augment, random } = options;
  if (!Number.isInteger(side) || side < 1)
    throw new RangeError(`side must be a positive integer, got ${side}`);
  if (augment !== null) validateAugment(augment);
  const { height, width, channels, numClasses } = ds;
  const size = indices.length;
  const imageSize = height * width * channels;
  const outSize = side * side * channels;
  const x = new Float32Array(size * outSize);
  const targets = new Float32Array(size * numClasses);
  const labels = new Uint8Array(size);
  const scratch = new Float32Array(imageSize);
  const { scale, shift } = normalisation(ds);
  const randAugment = augment?.randAugment ?? null;
  // Geometric operations bring in the dataset mean, as timm fills with its mean.
  const augmenter =
    randAugment &&
    new RandAugmenter(
      height,
      width,
      channels,
      Float32Array.from(ds.mean, (m) => Math.round(m * 255)),
    );

  for (let n = 0; n < size; n++) {
    const index = indices[n] as number;
    if (!(index >= 0 && index < ds.count)) {
      throw new RangeError(`index ${index} is outside ${ds.name}/${ds.split} (${ds.count} images)`);
    }
    const src = ds.images.subarray(index * imageSize, (index + 1) * imageSize);
    if (augment === null) {
      scratch.set(src);
    } else {
      const { cropPadding, horizontalFlip } = augment;
      cropAndFlip(src, height, width, channels, cropPadding, horizontalFlip, random, scratch);
      if (augmenter && randAugment) augmenter.augment(scratch, randAugment, random, augment.randAugmentScale);
    }

    const offset = n * outSize;
    resizeBilinear(scratch, height, width, channels, side, side, x, offset);
    for (let k = 0; k < outSize; k++) {
      const c = k % channels;
      x[offset + k] = (x[offset + k] as number) * (scale[c] as number) - (shift[c] as number);
    }
    if (augment !== null && augment.randomErasing > 0) {
      randomErase(x.subarray(offset, offset + outSize), side, side, channels, augment.randomErasing, random);
    }

    const label = ds.labels[index] as number;
    labels[n] = label;
    targets[n * numClasses + label] = 1;
  }

  if (augment !== null) mixBatch({ x, targets, size, side, channels, numClasses }, augment, random);
  return { x, targets, labels, size, side, channels, numClasses };
}

/** (v / 255 - mean) / std folded into one multiply-subtract per value. */
function normalisation(ds: ImageDataset): { scale: Float32Array; shift: Float32Array } {
  if (ds.mean.length !== ds.channels || ds.std.length !== ds.channels) {
    throw new Error(`${ds.name}: mean/std need ${ds.channels} values per channel`);
  }
  const scale = new Float32Array(ds.channels);
  const shift = new Float32Array(ds.channels);
  for (let c = 0; c < ds.channels; c++) {
    const mean = ds.mean[c] as number;
    const std = ds.std[c] as number;
    scale[c] = 1 / (255 * std);
    shift[c] = mean / std;
  }
  return { scale, shift };
}
