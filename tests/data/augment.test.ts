import { describe, expect, it } from "vitest";
import { createRandom } from "../../src/core/random.ts";
import { cropAndFlip, DEFAULT_AUGMENT, randomErase, validateAugment } from "../../src/data/augment.ts";
import { forbiddenRandom, sequenceRandom } from "./helpers.ts";

const H = 6;
const W = 5;
const C = 2;
const src = Uint8Array.from({ length: H * W * C }, (_, i) => i + 1);
const at = (y: number, x: number, c: number): number => src[(y * W + x) * C + c] ?? Number.NaN;

function cropped(random: () => number, padding: number, flip: boolean): Float32Array {
  const out = new Float32Array(H * W * C);
  cropAndFlip(src, H, W, C, padding, flip, random, out);
  return out;
}

describe("cropAndFlip", () => {
  it("is a zero-filled shifted copy: offsets 0 and 4 with padding 2 shift by (-2, +2)", () => {
    // randomInt(r, 5) = floor(5 r): 0 → row shift -2, 0.9 → column shift +2.
    const out = cropped(sequenceRandom([0, 0.9]), 2, false);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < C; c++) {
          const sy = y - 2;
          const sx = x + 2;
          const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
          expect(out[(y * W + x) * C + c]).toBe(inside ? at(sy, sx, c) : 0);
        }
      }
    }
  });

  it("flips left-right on a coin below 0.5 and copies otherwise", () => {
    const flipped = cropped(sequenceRandom([0.2]), 0, true);
    const kept = cropped(sequenceRandom([0.7]), 0, true);
    expect(Array.from(kept)).toEqual(Array.from(src));
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) expect(flipped[(y * W + x) * C + 1]).toBe(at(y, W - 1 - x, 1));
    }
  });

  it("draws nothing when both are off", () => {
    expect(Array.from(cropped(forbiddenRandom, 0, false))).toEqual(Array.from(src));
  });
});

describe("randomErase", () => {
  it("replaces one rectangle and leaves the rest", () => {
    const side = 16;
    const image = new Float32Array(side * side).fill(5);
    expect(randomErase(image, side, side, 1, 1, createRandom(3))).toBe(true);
    const erased: [number, number][] = [];
    image.forEach((v, i) => {
      if (v !== 5) erased.push([Math.floor(i / side), i % side]);
    });
    const rows = erased.map(([y]) => y);
    const cols = erased.map(([, x]) => x);
    const height = Math.max(...rows) - Math.min(...rows) + 1;
    const width = Math.max(...cols) - Math.min(...cols) + 1;
    expect(erased.length).toBe(height * width);
    expect(erased.length).toBeGreaterThanOrEqual(Math.floor(0.02 * side * side) - side);
    expect(erased.length).toBeLessThan((side * side) / 2);
  });

  it("is a no-op with probability 0", () => {
    const image = new Float32Array(16).fill(1);
    expect(randomErase(image, 4, 4, 1, 0, forbiddenRandom)).toBe(false);
    expect(Array.from(image)).toEqual(new Array(16).fill(1));
  });
});

describe("augment options", () => {
  it("defaults never flip digits and are valid", () => {
    expect(DEFAULT_AUGMENT.mnist.horizontalFlip).toBe(false);
    expect(DEFAULT_AUGMENT.cifar10).toMatchObject({ cropPadding: 4, horizontalFlip: true });
    for (const options of Object.values(DEFAULT_AUGMENT))
      expect(() => validateAugment(options)).not.toThrow();
  });

  it("rejects out-of-range values", () => {
    const base = DEFAULT_AUGMENT["fashion-mnist"];
    expect(() => validateAugment({ ...base, cropPadding: 1.5 })).toThrow(RangeError);
    expect(() => validateAugment({ ...base, randomErasing: 2 })).toThrow(RangeError);
    expect(() => validateAugment({ ...base, mixupAlpha: -1 })).toThrow(RangeError);
  });
});
