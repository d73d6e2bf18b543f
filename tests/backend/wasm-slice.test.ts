import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { installWasmSlice } from "../../src/backend/wasm-slice.ts";
import { useTestBackend } from "../helpers.ts";

beforeAll(async () => {
  await useTestBackend();
  installWasmSlice();
});

/** The same slice computed in plain JS from the values: the reference. */
function sliceByHand(values: Float32Array, shape: number[], begin: number[], size: number[]): number[] {
  const strides = tf.util.computeStrides(shape);
  const out: number[] = [];
  const walk = (axis: number, offset: number) => {
    if (axis === shape.length) {
      out.push(values[offset] as number);
      return;
    }
    const stride = axis === shape.length - 1 ? 1 : (strides[axis] as number);
    for (let i = 0; i < (size[axis] as number); i++)
      walk(axis + 1, offset + ((begin[axis] as number) + i) * stride);
  };
  walk(0, 0);
  return out;
}

describe("the in-place wasm Slice kernel", () => {
  it.each([
    { shape: [1000], begin: [17], size: [300] },
    { shape: [6, 7], begin: [1, 2], size: [4, 5] },
    { shape: [3, 5, 7], begin: [0, 1, 2], size: [3, 3, 4] },
    { shape: [3, 5, 7, 9], begin: [1, 2, 0, 3], size: [2, 2, 7, 4] },
    { shape: [3, 5, 7, 9], begin: [2, 0, 0, 0], size: [1, 5, 7, 9] },
    { shape: [2, 3, 4, 5, 6], begin: [1, 0, 1, 2, 0], size: [1, 3, 2, 3, 6] },
  ])("slices $shape from $begin by $size exactly", async ({ shape, begin, size }) => {
    expect(tf.getBackend()).toBe("wasm");
    const values = Float32Array.from({ length: tf.util.sizeFromShape(shape) }, (_, i) => i * 0.5 - 3);
    const x = tf.tensor(values, shape);
    const got = tf.slice(x, begin, size);
    expect(got.shape).toEqual(size);
    expect(Array.from(await got.data())).toEqual(sliceByHand(values, shape, begin, size));
    tf.dispose([x, got]);
  });

  it("slices int32 tensors too", async () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], "int32");
    const got = tf.slice(x, [1, 1], [2, 1]);
    expect(got.dtype).toBe("int32");
    expect(Array.from(await got.data())).toEqual([4, 6]);
    tf.dispose([x, got]);
  });
});
