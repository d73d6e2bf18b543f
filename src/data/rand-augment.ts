/**
 * RandAugment as DeiT trains with it (timm's "rand-m9-mstd0.5-inc1"): per image, `ops`
 * operations drawn uniformly with replacement from the 15 below, each applied with
 * probability 0.5 at a magnitude drawn from N(magnitude, magnitudeStd) clipped to [0, 10].
 * The "increasing" variants are used (inc1), so a larger magnitude is always a stronger
 * change and magnitude 0 leaves the image unchanged for every operation but AutoContrast,
 * Equalize, Invert (no magnitude) and Posterize (keeps 4 bits at 0): AdaReg's 0.5× → 1×
 * scale of the magnitude then means weaker → full augmentation.
 *
 * Images are HWC floats holding 0..255 integers (the crop's output, before normalisation),
 * grey (1 channel) or RGB. Every operation rounds or truncates back to integers as PIL does
 * on 8-bit images. Colour is the identity on grey images (PIL's degenerate image of a grey
 * image is itself). Geometric operations sample bilinearly around pixel centres (DeiT uses
 * bicubic) and fill what falls outside with the dataset mean, as timm fills with its mean.
 */

import { type Random, randomInt, randomNormal } from "../core/random.ts";

export interface RandAugmentOptions {
  /** Operations per image (timm's N). */
  ops: number;
  /** Mean magnitude in 0..10 (timm's M). */
  magnitude: number;
  /** Standard deviation of the per-operation magnitude; 0 = always `magnitude`. */
  magnitudeStd: number;
}

/** timm's magnitude scale: levels are fractions of 10. */
export const MAX_MAGNITUDE = 10;
/** timm's per-operation probability in RandAugment. */
const OP_PROBABILITY = 0.5;

export const RAND_AUGMENT_OPS = [
  "autoContrast",
  "equalize",
  "invert",
  "rotate",
  "posterize",
  "solarize",
  "solarizeAdd",
  "color",
  "contrast",
  "brightness",
  "sharpness",
  "shearX",
  "shearY",
  "translateX",
  "translateY",
] as const;
export type RandAugmentOp = (typeof RAND_AUGMENT_OPS)[number];

export function validateRandAugment(options: RandAugmentOptions): void {
  const { ops, magnitude, magnitudeStd } = options;
  if (!Number.isInteger(ops) || ops < 0)
    throw new RangeError(`randAugment.ops must be a non-negative integer, got ${ops}`);
  if (!(magnitude >= 0 && magnitude <= MAX_MAGNITUDE)) {
    throw new RangeError(`randAugment.magnitude must be in [0, ${MAX_MAGNITUDE}], got ${magnitude}`);
  }
  if (!(magnitudeStd >= 0 && Number.isFinite(magnitudeStd))) {
    throw new RangeError(`randAugment.magnitudeStd must be >= 0, got ${magnitudeStd}`);
  }
}

/**
 * Scratch for one image size, reused image after image so that augmenting allocates nothing
 * per pixel or per image.
 */
export class RandAugmenter {
  private readonly copy: Float32Array;
  private readonly histogram = new Int32Array(256);
  private readonly lut = new Uint8Array(256);

  constructor(
    readonly height: number,
    readonly width: number,
    readonly channels: number,
    /** Per-channel value (0..255) for pixels a geometric operation brings in from outside. */
    readonly fill: Float32Array,
  ) {
    if (channels !== 1 && channels !== 3)
      throw new RangeError(`RandAugment needs 1 or 3 channels, got ${channels}`);
    if (fill.length !== channels) throw new RangeError(`fill needs ${channels} values, got ${fill.length}`);
    this.copy = new Float32Array(height * width * channels);
  }

  /**
   * Augments one image in place. Draws, per operation: the operation, the 0.5 coin, then
   * (when applied) the magnitude's normal draw (when magnitudeStd > 0) and the sign coin
   * (signed operations only). `scale` multiplies the mean magnitude (AdaReg's ramp).
   */
  augment(image: Float32Array, options: RandAugmentOptions, random: Random, scale = 1): void {
    for (let i = 0; i < options.ops; i++) {
      const op = RAND_AUGMENT_OPS[randomInt(random, RAND_AUGMENT_OPS.length)] as RandAugmentOp;
      if (random() >= OP_PROBABILITY) continue;
      let magnitude = options.magnitude * scale;
      if (options.magnitudeStd > 0) magnitude += options.magnitudeStd * randomNormal(random);
      magnitude = Math.min(MAX_MAGNITUDE, Math.max(0, magnitude));
      this.apply(image, op, magnitude, random);
    }
  }

  /** One operation at a magnitude in 0..10; `random` gives the sign of signed operations. */
  apply(image: Float32Array, op: RandAugmentOp, magnitude: number, random: Random): void {
    const level = magnitude / MAX_MAGNITUDE;
    const signed = (v: number): number => (random() < 0.5 ? -v : v);
    switch (op) {
      case "autoContrast":
        this.autoContrast(image);
        break;
      case "equalize":
        this.equalize(image);
        break;
      case "invert":
        this.mapValues(image, (v) => 255 - v);
        break;
      case "rotate":
        this.rotate(image, signed(level * 30));
        break;
      case "posterize":
        this.posterize(image, 4 - Math.trunc(level * 4));
        break;
      case "solarize":
        this.solarize(image, 256 - Math.min(256, Math.trunc(level * 256)));
        break;
      case "solarizeAdd":
        this.solarizeAdd(image, Math.min(128, Math.trunc(level * 110)));
        break;
      case "color":
        this.color(image, enhanceFactor(signed(level * 0.9)));
        break;
      case "contrast":
        this.contrast(image, enhanceFactor(signed(level * 0.9)));
        break;
      case "brightness":
        this.blendWithConstant(image, 0, enhanceFactor(signed(level * 0.9)));
        break;
      case "sharpness":
        this.sharpness(image, enhanceFactor(signed(level * 0.9)));
        break;
      case "shearX":
        this.affine(image, 1, signed(level * 0.3), 0, 0, 1, 0);
        break;
      case "shearY":
        this.affine(image, 1, 0, 0, signed(level * 0.3), 1, 0);
        break;
      case "translateX":
        this.affine(image, 1, 0, signed(level * 0.45) * this.width, 0, 1, 0);
        break;
      case "translateY":
        this.affine(image, 1, 0, 0, 0, 1, signed(level * 0.45) * this.height);
        break;
    }
  }

  /** PIL's ImageOps.autocontrast (cutoff 0), per channel: min..max stretched to 0..255. */
  autoContrast(image: Float32Array): void {
    const { channels } = this;
    for (let c = 0; c < channels; c++) {
      let lo = 255;
      let hi = 0;
      for (let k = c; k < image.length; k += channels) {
        const v = image[k] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi <= lo) continue;
      const scale = 255 / (hi - lo);
      for (let k = c; k < image.length; k += channels) {
        image[k] = clampByte(Math.trunc(((image[k] as number) - lo) * scale));
      }
    }
  }

  /** PIL's ImageOps.equalize, per channel. */
  equalize(image: Float32Array): void {
    const { channels, histogram, lut } = this;
    for (let c = 0; c < channels; c++) {
      histogram.fill(0);
      for (let k = c; k < image.length; k += channels) {
        const v = image[k] as number;
        histogram[v] = (histogram[v] as number) + 1;
      }
      let total = 0;
      let last = 0;
      let nonZero = 0;
      for (let i = 0; i < 256; i++) {
        const h = histogram[i] as number;
        if (h > 0) {
          total += h;
          last = h;
          nonZero += 1;
        }
      }
      if (nonZero <= 1) continue;
      const step = Math.floor((total - last) / 255);
      if (step === 0) continue;
      let n = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        lut[i] = Math.min(255, Math.floor(n / step));
        n += histogram[i] as number;
      }
      for (let k = c; k < image.length; k += channels) image[k] = lut[image[k] as number] as number;
    }
  }

  /** Keeps the top `bits` bits of every value (0 bits: black). */
  posterize(image: Float32Array, bits: number): void {
    if (bits >= 8) return;
    const mask = ~(2 ** (8 - bits) - 1) & 0xff;
    this.mapValues(image, (v) => v & mask);
  }

  /** Inverts values at or above the threshold (256: nothing). */
  solarize(image: Float32Array, threshold: number): void {
    this.mapValues(image, (v) => (v < threshold ? v : 255 - v));
  }

  /** Adds `add` to values below 128, capped at 255 (timm's solarize_add). */
  solarizeAdd(image: Float32Array, add: number): void {
    this.mapValues(image, (v) => (v < 128 ? Math.min(255, v + add) : v));
  }

  /** PIL's ImageEnhance.Color: blend with the image's grey version; the identity on grey images. */
  color(image: Float32Array, factor: number): void {
    if (this.channels === 1) return;
    for (let k = 0; k < image.length; k += 3) {
      const grey = luma(image[k] as number, image[k + 1] as number, image[k + 2] as number);
      for (let c = 0; c < 3; c++) image[k + c] = blend(grey, image[k + c] as number, factor);
    }
  }

  /** PIL's ImageEnhance.Contrast: blend with the rounded mean grey level. */
  contrast(image: Float32Array, factor: number): void {
    let sum = 0;
    if (this.channels === 1) {
      for (let k = 0; k < image.length; k++) sum += image[k] as number;
    } else {
      for (let k = 0; k < image.length; k += 3) {
        sum += luma(image[k] as number, image[k + 1] as number, image[k + 2] as number);
      }
    }
    const mean = Math.floor(sum / (this.height * this.width) + 0.5);
    this.blendWithConstant(image, mean, factor);
  }

  /** PIL's ImageEnhance.Sharpness: blend with the SMOOTH-filtered image (borders unfiltered). */
  sharpness(image: Float32Array, factor: number): void {
    const { height, width, channels, copy } = this;
    copy.set(image);
    for (let y = 1; y < height - 1; y++) {
      for (let x = 1; x < width - 1; x++) {
        for (let c = 0; c < channels; c++) {
          const k = (y * width + x) * channels + c;
          let sum = 4 * (copy[k] as number);
          for (let dy = -1; dy <= 1; dy++) {
            for (let dx = -1; dx <= 1; dx++) sum += copy[k + (dy * width + dx) * channels] as number;
          }
          const smooth = clampByte(Math.floor(sum / 13 + 0.5));
          image[k] = blend(smooth, copy[k] as number, factor);
        }
      }
    }
  }

  /** Counter-clockwise by `degrees` about the image centre, as PIL's Image.rotate. */
  rotate(image: Float32Array, degrees: number): void {
    const angle = (-degrees * Math.PI) / 180;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const cx = this.width / 2;
    const cy = this.height / 2;
    // PIL: matrix (cos, sin, ·, −sin, cos, ·) with the offset that keeps the centre fixed.
    this.affine(image, cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy);
  }

  /**
   * PIL's AFFINE transform: output point (x, y) samples the input at (a·x + b·y + c,
   * d·x + e·y + f), in continuous coordinates whose pixel centres sit at +0.5.
   */
  affine(image: Float32Array, a: number, b: number, c: number, d: number, e: number, f: number): void {
    const { height, width, channels, copy, fill } = this;
    copy.set(image);
    let o = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const u = a * (x + 0.5) + b * (y + 0.5) + c - 0.5;
        const v = d * (x + 0.5) + e * (y + 0.5) + f - 0.5;
        if (u < -0.5 || u > width - 0.5 || v < -0.5 || v > height - 0.5) {
          for (let ch = 0; ch < channels; ch++) image[o++] = fill[ch] as number;
          continue;
        }
        const x0 = Math.floor(u);
        const y0 = Math.floor(v);
        const fx = u - x0;
        const fy = v - y0;
        for (let ch = 0; ch < channels; ch++) {
          const top = lerp(this.at(x0, y0, ch), this.at(x0 + 1, y0, ch), fx);
          const bottom = lerp(this.at(x0, y0 + 1, ch), this.at(x0 + 1, y0 + 1, ch), fx);
          image[o++] = clampByte(Math.floor(lerp(top, bottom, fy) + 0.5));
        }
      }
    }
  }

  /** The pre-transform value at (x, y), the fill outside the image. */
  private at(x: number, y: number, ch: number): number {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return this.fill[ch] as number;
    return this.copy[(y * this.width + x) * this.channels + ch] as number;
  }

  private blendWithConstant(image: Float32Array, constant: number, factor: number): void {
    this.mapValues(image, (v) => blend(constant, v, factor));
  }

  /** Applies a per-value map through a 256-entry table: one call per level, not per pixel. */
  private mapValues(image: Float32Array, map: (v: number) => number): void {
    const { lut } = this;
    for (let i = 0; i < 256; i++) lut[i] = map(i);
    for (let k = 0; k < image.length; k++) image[k] = lut[image[k] as number] as number;
  }
}

/** timm's increasing enhance factor: 1 ± 0.9·level, at least 0.1. */
function enhanceFactor(signedLevel: number): number {
  return Math.max(0.1, 1 + signedLevel);
}

/** PIL's Image.blend on 8-bit values: degenerate + factor·(image − degenerate), truncated. */
function blend(degenerate: number, value: number, factor: number): number {
  const t = degenerate + factor * (value - degenerate);
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

/** PIL's RGB → L: (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

function clampByte(v: number): number {
  return v < 0 ? 0 : Math.min(v, 255);
}
