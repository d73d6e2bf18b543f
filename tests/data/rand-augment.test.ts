import { describe, expect, it } from "vitest";
import { createRandom } from "../../src/core/random.ts";
import { parseSpec, SpecError } from "../../src/core/spec.ts";
import { type AugmentOptions, DEFAULT_AUGMENT } from "../../src/data/augment.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { RAND_AUGMENT_OPS, RandAugmenter } from "../../src/data/rand-augment.ts";
import { randAugmentOf } from "../../src/train/run-plan.ts";
import { randAugmentScale, regularisationScale } from "../../src/train/stages.ts";
import { forbiddenRandom, sameBytes, sequenceRandom, syntheticDataset } from "./helpers.ts";

const FILL = 100;
const grey = (h: number, w: number) => new RandAugmenter(h, w, 1, Float32Array.of(FILL));
const rgb = (h: number, w: number) => new RandAugmenter(h, w, 3, Float32Array.of(FILL, FILL, FILL));
const values = (...v: number[]) => Float32Array.from(v);
/** Sign coin of the signed operations: random() < 0.5 negates. */
const POSITIVE = () => sequenceRandom([0.9]);
const NEGATIVE = () => sequenceRandom([0.1]);

/** 4×4 grey, values 5..56 so that AutoContrast's scale is exactly 255 / 51 = 5. */
const G = values(5, 15, 30, 56, 20, 5, 15, 30, 56, 20, 5, 15, 30, 56, 20, 5);

function applied(
  augmenter: RandAugmenter,
  image: Float32Array,
  op: (typeof RAND_AUGMENT_OPS)[number],
  magnitude: number,
  random = forbiddenRandom,
) {
  const out = image.slice();
  augmenter.apply(out, op, magnitude, random);
  return Array.from(out);
}

describe("RandAugment operations on hand-computed images", () => {
  it("autoContrast stretches min..max to 0..255 per channel", () => {
    expect(applied(grey(4, 4), G, "autoContrast", 9)).toEqual([
      0, 50, 125, 255, 75, 0, 50, 125, 255, 75, 0, 50, 125, 255, 75, 0,
    ]);
    // RGB: channel 0 spans 10..61 (×5), channel 1 is flat (left alone), channel 2 spans 0..255 already.
    expect(applied(rgb(1, 2), values(10, 7, 0, 61, 7, 255), "autoContrast", 9)).toEqual([
      0, 7, 0, 255, 7, 255,
    ]);
  });

  it("equalize follows PIL's lut: identity on tiny images, a spread histogram on larger ones", () => {
    // 16 pixels: step = (16 − 3) // 255 = 0, so PIL leaves the image alone.
    expect(applied(grey(4, 4), G, "equalize", 9)).toEqual(Array.from(G));
    // 32×32: 300 × 10, 300 × 20, 424 × 30 → step 2; lut[10] = 1//2, lut[20] = 301//2, lut[30] = min(255, 601//2).
    const image = new Float32Array(1024);
    image.fill(10, 0, 300).fill(20, 300, 600).fill(30, 600);
    const out = applied(grey(32, 32), image, "equalize", 9);
    expect(out.slice(0, 300).every((v) => v === 0)).toBe(true);
    expect(out.slice(300, 600).every((v) => v === 150)).toBe(true);
    expect(out.slice(600).every((v) => v === 255)).toBe(true);
  });

  it("invert, posterize, solarize and solarizeAdd map each value", () => {
    const image = values(0, 5, 127, 128, 130, 200, 255, 64);
    const a = grey(2, 4);
    expect(applied(a, image, "invert", 9)).toEqual([255, 250, 128, 127, 125, 55, 0, 191]);
    // magnitude 5: keep 4 − trunc(0.5 · 4) = 2 bits (mask 0xC0).
    expect(applied(a, image, "posterize", 5)).toEqual([0, 0, 64, 128, 128, 192, 192, 64]);
    // magnitude 10: keep 0 bits.
    expect(applied(a, image, "posterize", 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // magnitude 5: threshold 256 − 128 = 128.
    expect(applied(a, image, "solarize", 5)).toEqual([0, 5, 127, 127, 125, 55, 0, 64]);
    // magnitude 10: add min(128, 110) to values below 128.
    expect(applied(a, image, "solarizeAdd", 10)).toEqual([110, 115, 237, 128, 130, 200, 255, 174]);
  });

  it("brightness, contrast and sharpness blend with PIL's degenerate images, truncating", () => {
    const a = grey(2, 2);
    // factor 1 + 0.9 = 1.9.
    expect(applied(a, values(5, 15, 56, 200), "brightness", 10, POSITIVE())).toEqual([9, 28, 106, 255]);
    // mean of (11, 23, 33, 61) = 32; 32 + 1.9 (v − 32).
    expect(applied(a, values(11, 23, 33, 61), "contrast", 10, POSITIVE())).toEqual([0, 14, 33, 87]);
    // negated: factor max(0.1, 1 − 0.9) = 0.1; 32 + 0.1 (v − 32).
    expect(applied(a, values(11, 23, 33, 61), "contrast", 10, NEGATIVE())).toEqual([29, 31, 32, 34]);
    // 3×3: SMOOTH of the centre = round((5 · 117 + 8 · 13) / 13) = 53; 53 + 1.9 · 64; the border is unfiltered.
    const image = new Float32Array(9).fill(13);
    image[4] = 117;
    expect(applied(grey(3, 3), image, "sharpness", 10, POSITIVE())).toEqual([
      13, 13, 13, 13, 174, 13, 13, 13, 13,
    ]);
  });

  it("color blends RGB with its PIL luma and is the identity on grey", () => {
    // luma(200, 100, 50) = 8172318 >> 16 = 124; 124 + 1.9 (v − 124) → 268.4, 78.4, −16.6.
    expect(applied(rgb(1, 1), values(200, 100, 50), "color", 10, POSITIVE())).toEqual([255, 78, 0]);
    // factor 0.1: 124 + 0.1 (v − 124) → 131.6, 121.6, 116.6.
    expect(applied(rgb(1, 1), values(200, 100, 50), "color", 10, NEGATIVE())).toEqual([131, 121, 116]);
    expect(applied(grey(4, 4), G, "color", 10, POSITIVE())).toEqual(Array.from(G));
    // RGB contrast blends with the mean luma, the same for every channel.
    expect(applied(rgb(1, 1), values(200, 100, 50), "contrast", 10, NEGATIVE())).toEqual([131, 121, 116]);
  });

  it("geometric operations move pixels and fill from outside with the mean", () => {
    const ramp = values(10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160);
    const a = grey(4, 4);
    // 90° counter-clockwise: out(row y, col x) = in(row x, col 3 − y).
    const rotated = ramp.slice();
    a.rotate(rotated, 90);
    expect(Array.from(rotated)).toEqual([
      40, 80, 120, 160, 30, 70, 110, 150, 20, 60, 100, 140, 10, 50, 90, 130,
    ]);
    // Integer shear: out(x, y) = in(x + y, y), the fill past the right edge.
    const sheared = ramp.slice();
    a.affine(sheared, 1, 1, -0.5, 0, 1, 0);
    expect(Array.from(sheared)).toEqual([
      10,
      20,
      30,
      40,
      60,
      70,
      80,
      FILL,
      110,
      120,
      FILL,
      FILL,
      160,
      FILL,
      FILL,
      FILL,
    ]);
    // translateX at magnitude 10: 0.45 · 4 = 1.8 px, bilinear: x=0 → 20 + 0.8 · 10.
    expect(applied(a, ramp, "translateX", 10, POSITIVE()).slice(0, 4)).toEqual([28, 38, FILL, FILL]);
    // translateY negated: rows come from 1.8 rows up; row 0 and 1 fall outside.
    expect(applied(a, ramp, "translateY", 10, NEGATIVE()).slice(0, 8)).toEqual(new Array(8).fill(FILL));
    expect(applied(a, ramp, "translateY", 10, NEGATIVE()).slice(8, 12)).toEqual([18, 28, 38, 48]);
  });

  it("is the identity at magnitude 0 for every operation that has a magnitude (but Posterize)", () => {
    const colourful = Float32Array.from({ length: 5 * 6 * 3 }, (_, i) => (i * 53) % 256);
    const greyImage = Float32Array.from({ length: 5 * 6 }, (_, i) => (i * 97) % 256);
    const unchanged = RAND_AUGMENT_OPS.filter(
      (op) => !["autoContrast", "equalize", "invert", "posterize"].includes(op),
    );
    expect(unchanged).toHaveLength(11);
    for (const [augmenter, image] of [
      [rgb(5, 6), colourful],
      [grey(5, 6), greyImage],
    ] as const) {
      for (const op of unchanged) {
        expect(applied(augmenter, image, op, 0, createRandom(1)), op).toEqual(Array.from(image));
      }
      // Posterize at 0 keeps 4 bits, as timm's increasing variant.
      expect(applied(augmenter, image, "posterize", 0)).toEqual(Array.from(image, (v) => v & 0xf0));
    }
  });

  it("scales the mean magnitude: scale 0.5 at magnitude 10 equals magnitude 5", () => {
    const image = Float32Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 31) % 256);
    const a = rgb(8, 8);
    for (let seed = 0; seed < 20; seed++) {
      const half = image.slice();
      a.augment(half, { ops: 3, magnitude: 10, magnitudeStd: 0 }, createRandom(seed), 0.5);
      const five = image.slice();
      a.augment(five, { ops: 3, magnitude: 5, magnitudeStd: 0 }, createRandom(seed), 1);
      expect(Array.from(half)).toEqual(Array.from(five));
    }
  });
});

describe("RandAugment in batches and specs", () => {
  const indices = Int32Array.from([0, 1, 2, 3, 4, 5]);
  const withRandAugment = (name: "mnist" | "cifar10"): AugmentOptions => ({
    ...DEFAULT_AUGMENT[name],
    randAugment: { ops: 2, magnitude: 9, magnitudeStd: 0.5 },
  });

  it.each([
    ["grey", 1, "mnist"],
    ["RGB", 3, "cifar10"],
  ] as const)(
    "same seed, same %s batch; another seed or RandAugment off, another batch",
    (_, channels, name) => {
      const ds = syntheticDataset(6, 8, channels);
      const make = (seed: number, augment = withRandAugment(name)) =>
        makeBatch(ds, indices, { side: 8, augment, random: createRandom(seed) }).x;
      expect(sameBytes(make(3), make(3))).toBe(true);
      expect(sameBytes(make(3), make(4))).toBe(false);
      expect(sameBytes(make(3), make(3, DEFAULT_AUGMENT[name]))).toBe(false);
      expect(make(3).every(Number.isFinite)).toBe(true);
    },
  );

  it("ramps the magnitude 0.5× → 1× over the stages under AdaReg, 1× without", () => {
    const ramp = [0, 1, 2, 3].map((k) => randAugmentScale(regularisationScale(k, 4, true)));
    expect(ramp).toEqual([0.5, 0.5 + 0.5 / 3, 0.5 + 1 / 3, 1]);
    expect(randAugmentScale(regularisationScale(0, 4, false))).toBe(1);
  });

  it("is on by default for VOLO and off for the ViT; null turns it off; bad fields are named", () => {
    expect(randAugmentOf(undefined, "volo")).toEqual({ ops: 2, magnitude: 9, magnitudeStd: 0.5 });
    expect(randAugmentOf(undefined, "vit")).toBeNull();
    expect(randAugmentOf(null, "volo")).toBeNull();
    const spec = parseSpec({
      name: "r",
      dataset: { name: "mnist" },
      training: { augment: { randAugment: { magnitude: 5 } } },
    });
    expect(spec.training.augment.randAugment).toEqual({ ops: 2, magnitude: 5, magnitudeStd: 0.5 });
    expect(randAugmentOf(spec.training.augment.randAugment, "vit")).toEqual({
      ops: 2,
      magnitude: 5,
      magnitudeStd: 0.5,
    });
    const bad = { ops: 1.5, magnitude: 11, magnitudeStd: -1, extra: 1 };
    try {
      parseSpec({ name: "r", dataset: { name: "mnist" }, training: { augment: { randAugment: bad } } });
      throw new Error("accepted");
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      expect(error.errors.map((e) => e.path).sort()).toEqual(
        ["ops", "magnitude", "magnitudeStd", "extra"].map((f) => `training.augment.randAugment.${f}`).sort(),
      );
    }
  });
});
