/**
 * Per-image training augmentation in plain typed-array loops (fast at 28–32 px):
 * zero-padded random crop, horizontal flip, RandAugment (rand-augment.ts) and random erasing.
 * Batch-level mixing (mixup/cutmix) lives in mix.ts.
 */

import { type Random, randomInt, randomNormal } from "../core/random.ts";
import type { DatasetName } from "./dataset.ts";
import { type RandAugmentOptions, validateRandAugment } from "./rand-augment.ts";

export interface AugmentOptions {
  /** Random crop after zero padding by this many (dataset) pixels per side; 0 = off. */
  cropPadding: number;
  /** Mirror left-right with probability 0.5; off for digits, where it changes meaning. */
  horizontalFlip: boolean;
  /** RandAugment after the crop, before normalisation; null = off. */
  randAugment: RandAugmentOptions | null;
  /** AdaReg's multiplier of RandAugment's mean magnitude (0.5 → 1 over the stages); 1 without AdaReg. */
  randAugmentScale: number;
  /** Probability per image of erasing one random rectangle; 0 = off. */
  randomErasing: number;
  /** Beta(alpha, alpha) for mixup; 0 = off. */
  mixupAlpha: number;
  /** Beta(alpha, alpha) for cutmix; 0 = off. */
  cutmixAlpha: number;
  /** Chance a batch is mixed when either alpha > 0; with both on, one is picked per batch. */
  mixProbability: number;
}

const NO_MIX = {
  randAugment: null,
  randAugmentScale: 1,
  randomErasing: 0,
  mixupAlpha: 0,
  cutmixAlpha: 0,
  mixProbability: 1,
} as const;

/** Light geometric augmentation per dataset; regularisers are off until a spec turns them on. */
export const DEFAULT_AUGMENT: Readonly<Record<DatasetName, Readonly<AugmentOptions>>> = {
  mnist: { cropPadding: 2, horizontalFlip: false, ...NO_MIX },
  "fashion-mnist": { cropPadding: 2, horizontalFlip: true, ...NO_MIX },
  cifar10: { cropPadding: 4, horizontalFlip: true, ...NO_MIX },
};

export function validateAugment(options: AugmentOptions): void {
  const {
    cropPadding,
    randAugment,
    randAugmentScale,
    randomErasing,
    mixupAlpha,
    cutmixAlpha,
    mixProbability,
  } = options;
  if (!Number.isInteger(cropPadding) || cropPadding < 0) {
    throw new RangeError(`cropPadding must be a non-negative integer, got ${cropPadding}`);
  }
  for (const [name, p] of [
    ["randomErasing", randomErasing],
    ["mixProbability", mixProbability],
  ] as const) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${p}`);
  }
  if (randAugment !== null) validateRandAugment(randAugment);
  if (!(randAugmentScale >= 0 && randAugmentScale <= 1)) {
    throw new RangeError(`randAugmentScale must be in [0, 1], got ${randAugmentScale}`);
  }
  for (const [name, alpha] of [
    ["mixupAlpha", mixupAlpha],
    ["cutmixAlpha", cutmixAlpha],
  ] as const) {
    if (!(alpha >= 0 && Number.isFinite(alpha))) throw new RangeError(`${name} must be >= 0, got ${alpha}`);
  }
}

/**
 * Copies one HWC byte image into `out` as floats (still 0..255), shifted as if cropped
 * from the image padded by `padding` zeros on every side, and maybe mirrored.
 * Draws, in order: row offset and column offset (each in 0..2*padding, when padding > 0),
 * then the flip coin (when allowFlip).
 */
export function cropAndFlip(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  padding: number,
  allowFlip: boolean,
  random: Random,
  out: Float32Array,
): void {
  // Source pixel = output pixel + offset - padding; offsets span every shift in the padded image.
  const shiftY = padding > 0 ? randomInt(random, 2 * padding + 1) - padding : 0;
  const shiftX = padding > 0 ? randomInt(random, 2 * padding + 1) - padding : 0;
  const flip = allowFlip && random() < 0.5;
  let o = 0;
  for (let y = 0; y < height; y++) {
    const sy = y + shiftY;
    for (let x = 0; x < width; x++) {
      // Flip after the crop, as torchvision applies RandomCrop then RandomHorizontalFlip.
      const sx = (flip ? width - 1 - x : x) + shiftX;
      if (sy < 0 || sy >= height || sx < 0 || sx >= width) {
        out.fill(0, o, o + channels);
        o += channels;
        continue;
      }
      const s = (sy * width + sx) * channels;
      for (let c = 0; c < channels; c++) out[o++] = src[s + c] as number;
    }
  }
}

/**
 * Random erasing (Zhong et al. 2020, timm's defaults: area 2%–33%, aspect 0.3–3.3, up to
 * 10 tries) of one normalised HWC image in place. The rectangle gets N(0, 1) noise per
 * value, i.e. random pixels on the normalised scale, as timm's "pixel" mode.
 */
export function randomErase(
  image: Float32Array,
  height: number,
  width: number,
  channels: number,
  probability: number,
  random: Random,
): boolean {
  if (probability <= 0 || random() >= probability) return false;
  const area = height * width;
  const logMin = Math.log(0.3);
  const logMax = Math.log(1 / 0.3);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (0.02 + random() * (1 / 3 - 0.02));
    const aspect = Math.exp(logMin + random() * (logMax - logMin));
    const h = Math.round(Math.sqrt(targetArea * aspect));
    const w = Math.round(Math.sqrt(targetArea / aspect));
    if (h < 1 || w < 1 || h >= height || w >= width) continue;
    const top = randomInt(random, height - h + 1);
    const left = randomInt(random, width - w + 1);
    for (let y = top; y < top + h; y++) {
      let o = (y * width + left) * channels;
      for (let k = 0; k < w * channels; k++) image[o++] = randomNormal(random);
    }
    return true;
  }
  return false;
}
