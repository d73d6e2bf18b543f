import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initWeights } from "../../src/model/params.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { smoothedCrossEntropy } from "../../src/train/loss.ts";
import { expectAllClose, randomImages, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";
import { referenceLoss } from "../support/reference-vit.ts";

beforeAll(useTestBackend);

describe.each([
  { label: "full side, all blocks", side: 8, activeBlocks: [true, true, true], rezero: false },
  {
    label: "smaller side (resized position table), a skipped block",
    side: 4,
    activeBlocks: [true, false, true],
    rezero: false,
  },
  { label: "ReZero scalars in two blocks", side: 8, activeBlocks: [true, true, true], rezero: true },
])("hand-written backward passes, $label", ({ side, activeBlocks, rezero }) => {
  it("the loss and every weight's gradient match stock autograd of the plain-op model", async () => {
    const weights = initWeights(TINY_CONFIG, TINY_CONFIG.depth, 7);
    if (rezero) {
      weights.set("blocks.0.rezero", tf.variable(tf.scalar(0.4)));
      weights.set("blocks.2.rezero", tf.variable(tf.scalar(-0.3)));
    }
    const x = randomImages(4, side, 1, 3);
    const targets = tf.tensor2d([0.9, 0.1, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0], [4, 3]);
    // Weights of skipped blocks take no part (tfjs refuses a gradient for an unused input).
    const names = [...weights.keys()].filter(
      (n) => !n.startsWith("blocks.") || activeBlocks[Number(n.split(".")[1])],
    );
    const lossWith =
      (f: (map: Map<string, tf.Tensor>) => tf.Scalar) =>
      (...tensors: tf.Tensor[]) =>
        f(new Map([...weights, ...names.map((name, i) => [name, tensors[i] as tf.Tensor] as const)]));
    const ours = tf.valueAndGrads(
      lossWith((map) =>
        smoothedCrossEntropy(forward(TINY_CONFIG, map, x, { side, activeBlocks }), targets, 0.1),
      ),
    )(names.map((n) => weights.get(n) as tf.Tensor));
    const reference = tf.valueAndGrads(
      lossWith((map) => referenceLoss(TINY_CONFIG, map, x, targets, { side, activeBlocks, smoothing: 0.1 })),
    )(names.map((n) => weights.get(n) as tf.Tensor));
    expectAllClose(await values(ours.value), await values(reference.value), 1e-5);
    for (const [i, name] of names.entries()) {
      const got = await values(ours.grads[i] as tf.Tensor);
      const want = await values(reference.grads[i] as tf.Tensor);
      const scale = Math.max(1e-3, ...want.map(Math.abs));
      expect(Math.max(...got.map((g, j) => Math.abs(g - (want[j] as number)))) / scale, name).toBeLessThan(
        1e-4,
      );
    }
    tf.dispose([
      x,
      targets,
      ours.value,
      reference.value,
      ...ours.grads,
      ...reference.grads,
      ...weights.values(),
    ]);
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
