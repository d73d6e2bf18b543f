import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { dense } from "../../src/model/layers.ts";
import { initWeights } from "../../src/model/params.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { expectAllClose, randomImages, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

describe("dense layer with hand-written gradient", () => {
  it("matches tfjs autograd of matMul + bias", async () => {
    const x = tf.randomNormal([5, 4], 0, 1, "float32", 1) as tf.Tensor2D;
    const w = tf.randomNormal([4, 3], 0, 1, "float32", 2) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, "float32", 3) as tf.Tensor1D;
    const upstream = tf.randomNormal([5, 3], 0, 1, "float32", 4);
    const ours = tf.grads((xi, wi, bi) =>
      tf.sum(tf.mul(dense(xi as tf.Tensor2D, wi as tf.Tensor, bi as tf.Tensor), upstream)),
    );
    const reference = tf.grads((xi, wi, bi) =>
      tf.sum(tf.mul(tf.add(tf.matMul(xi as tf.Tensor2D, wi as tf.Tensor2D), bi), upstream)),
    );
    const got = ours([x, w, b]);
    const want = reference([x, w, b]);
    for (let i = 0; i < 3; i++) {
      const g = await values(got[i] as tf.Tensor);
      const r = await values(want[i] as tf.Tensor);
      expectAllClose(g, r, 1e-5);
    }
    tf.dispose([x, w, b, upstream, ...got, ...want]);
  });
});

describe("ViT gradients", () => {
  it("every trainable weight receives a finite, non-zero gradient", async () => {
    const weights = initWeights(TINY_CONFIG, TINY_CONFIG.depth, 7);
    const x = randomImages(4, 8, 1, 3);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3);
    const names = [...weights.keys()];
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          labels,
          forward(TINY_CONFIG, weights, x, { side: 8, activeBlocks: fullMask(TINY_CONFIG.depth) }),
        ) as tf.Scalar,
      [...weights.values()],
    );
    const byName = new Map([...weights.entries()].map(([name, v]) => [v.name, name]));
    const received = Object.keys(grads).map((k) => byName.get(k));
    expect(received.sort()).toEqual([...names].sort());
    for (const [key, grad] of Object.entries(grads)) {
      const g = await values(grad);
      expect(g.every(Number.isFinite), `${byName.get(key)} finite`).toBe(true);
      expect(
        g.some((v) => v !== 0),
        `${byName.get(key)} non-zero`,
      ).toBe(true);
    }
    tf.dispose([value, x, labels, ...Object.values(grads), ...weights.values()]);
  });
});
