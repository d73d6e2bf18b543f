import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createRandom } from "../../src/core/random.ts";
import { resizeBilinear } from "../../src/data/bilinear.ts";
import { downsample } from "../../src/data/resize.ts";

function jsResizeBatch(
  x: Float32Array,
  batch: number,
  side: number,
  channels: number,
  out: number,
): Float32Array {
  const result = new Float32Array(batch * out * out * channels);
  const imageSize = side * side * channels;
  for (let n = 0; n < batch; n++) {
    const image = x.subarray(n * imageSize, (n + 1) * imageSize);
    resizeBilinear(image, side, side, channels, out, out, result, n * out * out * channels);
  }
  return result;
}

describe("bilinear resize (half-pixel centres)", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("matches hand-computed values for 2x2 -> 4x4", () => {
    // Output pixel o samples (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 → clamped weights 0, ¼, ¾, 1.
    const src = Float32Array.from([0, 4, 8, 12]);
    const out = new Float32Array(16);
    resizeBilinear(src, 2, 2, 1, 4, 4, out);
    expect(Array.from(out)).toEqual([0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12]);
  });

  it("downsample agrees with the JS resize, down and up", () => {
    const random = createRandom(1);
    const values = Float32Array.from({ length: 2 * 32 * 32 * 3 }, () => random());
    const x = tf.tensor4d(values, [2, 32, 32, 3]);
    for (const side of [16, 20, 28, 36]) {
      const y = downsample(x, side);
      expect(y.shape).toEqual([2, side, side, 3]);
      const expected = jsResizeBatch(values, 2, 32, 3, side);
      const actual = y.dataSync();
      let maxError = 0;
      for (let i = 0; i < expected.length; i++) {
        maxError = Math.max(maxError, Math.abs((actual[i] ?? 0) - (expected[i] ?? 0)));
      }
      expect(maxError).toBeLessThan(1e-6);
      y.dispose();
    }
    x.dispose();
  });

  it("returns a new tensor when the side already matches, so both can be disposed", () => {
    const before = tf.memory().numTensors;
    const x = tf.ones([1, 8, 8, 1]) as tf.Tensor4D;
    const y = downsample(x, 8);
    expect(y).not.toBe(x);
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
    x.dispose();
    // y must still be readable after x is gone.
    expect(Array.from(y.dataSync()).reduce((sum, v) => sum + v, 0)).toBe(64);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
