import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { bilinearMatrix, resizePosEmbed } from "../../src/model/pos-embed.ts";
import { expectAllClose, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

describe("position table resize", () => {
  it("bilinear half-pixel weights for 4 → 2 average neighbouring pairs", () => {
    expect(Array.from(bilinearMatrix(2, 4))).toEqual([0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
  });

  it("matches tf.image.resizeBilinear (half-pixel centres) on a known 4×4 grid and keeps the class row", async () => {
    const width = 3;
    const grid = 4;
    const rows = 1 + grid * grid;
    const table = tf.tensor2d(
      Array.from({ length: rows * width }, (_, i) => Math.sin(i) * 10),
      [rows, width],
    );
    for (const target of [2, 3, 6]) {
      const resized = resizePosEmbed(table, target);
      expect(resized.shape).toEqual([1 + target * target, width]);
      const patches = tf.reshape(tf.slice(table, [1, 0], [grid * grid, width]), [
        1,
        grid,
        grid,
        width,
      ]) as tf.Tensor4D;
      const reference = tf.image.resizeBilinear(patches, [target, target], false, true);
      const got = await values(tf.slice(resized, [1, 0], [target * target, width]));
      const want = await values(reference);
      expectAllClose(got, want, 1e-5);
      expect(await values(tf.slice(resized, [0, 0], [1, width]))).toEqual(
        await values(tf.slice(table, [0, 0], [1, width])),
      );
      tf.dispose([resized, patches, reference]);
    }
    expect(resizePosEmbed(table, grid)).toBe(table);
    table.dispose();
  });

  it("passes gradients back into the one full-grid table", async () => {
    const table = tf.variable(tf.randomNormal([17, 2], 0, 1, "float32", 1));
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.square(resizePosEmbed(table as tf.Tensor2D, 2))),
      [table],
    );
    const g = await values(Object.values(grads)[0] as tf.Tensor);
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g.filter((v) => v !== 0).length).toBeGreaterThan(2 * 16 - 1);
    tf.dispose([table, ...Object.values(grads)]);
  });
});
