import { expect } from "vitest";
import { createRandom } from "../../../src/core/random.ts";

/** Uniform values in [−1, 1) from a seed. */
export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const random = createRandom(seed);
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

/**
 * Elementwise |actual − expected| ≤ tolerance · max(1, |expected|): relative for large values,
 * absolute near zero. Reports the worst element.
 */
export function expectClose(
  actual: Float32Array | undefined,
  expected: ArrayLike<number>,
  tolerance: number,
  what = "",
): void {
  if (!actual) throw new Error(`${what}: nothing read back`);
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i] as number;
    const error = Math.abs((actual[i] as number) - e) / Math.max(1, Math.abs(e));
    if (!(error <= worst)) {
      worst = error;
      at = i;
    }
  }
  expect(worst, `${what} worst at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(tolerance);
}
