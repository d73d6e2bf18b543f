import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { transformerBlock } from "../../src/model/block.ts";
import { blockPrefix, initWeights } from "../../src/model/params.ts";
import { expectAllClose, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";
import { referenceBlock } from "../support/reference-block.ts";

beforeAll(useTestBackend);

const batch = 3;
const tokens = 5;

describe.each([
  { label: "plain", rezero: false, dropPath: false },
  { label: "with ReZero scalar", rezero: true, dropPath: false },
  { label: "with ReZero and a drop-path mask", rezero: true, dropPath: true },
])("fused transformer block, $label", ({ rezero, dropPath }) => {
  it("matches the plain-op block and its autograd gradients", async () => {
    const weights = initWeights(TINY_CONFIG, 1, 11);
    // Non-trivial norms and biases, so every gradient term is exercised.
    for (const [name, variable] of weights) {
      if (!name.startsWith(blockPrefix(0)) || name.endsWith(".w")) continue;
      variable.assign(
        tf.randomNormal(variable.shape, name.endsWith("gamma") ? 1 : 0, 0.3, "float32", name.length),
      );
    }
    if (rezero) weights.set(`${blockPrefix(0)}rezero`, tf.variable(tf.scalar(0.7)));
    const keep = dropPath
      ? tf.tensor2d(
          Array.from({ length: batch * tokens }, (_, i) => (Math.floor(i / tokens) === 1 ? 0 : 2)),
          [batch * tokens, 1],
        )
      : null;
    const x = tf.randomNormal([batch * tokens, TINY_CONFIG.width], 0, 1, "float32", 5) as tf.Tensor2D;
    const upstream = tf.randomNormal([batch * tokens, TINY_CONFIG.width], 0, 1, "float32", 6);
    const names = [...weights.keys()].filter((n) => n.startsWith(blockPrefix(0)));
    const shape = { batch, tokens, index: 0, keep };
    const lossOf =
      (block: typeof transformerBlock) =>
      (...tensors: tf.Tensor[]) => {
        const map = new Map<string, tf.Tensor>(weights);
        names.forEach((name, i) => {
          map.set(name, tensors[i + 1] as tf.Tensor);
        });
        return tf.sum(
          tf.mul(block(TINY_CONFIG, map, tensors[0] as tf.Tensor2D, shape), upstream),
        ) as tf.Scalar;
      };
    const inputs = [x, ...names.map((n) => weights.get(n) as tf.Tensor)];
    const ours = tf.valueAndGrads(lossOf(transformerBlock))(inputs);
    const reference = tf.valueAndGrads(lossOf(referenceBlock))(inputs);
    expectAllClose(await values(ours.value), await values(reference.value), 1e-4);
    expect(ours.grads.length).toBe(names.length + 1);
    for (let i = 0; i < ours.grads.length; i++) {
      const got = await values(ours.grads[i] as tf.Tensor);
      const want = await values(reference.grads[i] as tf.Tensor);
      const scale = Math.max(1, ...want.map(Math.abs));
      expectAllClose(
        got.map((v) => v / scale),
        want.map((v) => v / scale),
        1e-5,
      );
    }
    tf.dispose([x, upstream, keep ?? [], ours.value, reference.value, ...ours.grads, ...reference.grads]);
    tf.dispose([...weights.values()]);
  });

  it("leaves no tensor behind across a gradient pass", () => {
    const weights = initWeights(TINY_CONFIG, 1, 3);
    if (rezero) weights.set(`${blockPrefix(0)}rezero`, tf.variable(tf.scalar(0.5)));
    const x = tf.randomNormal([batch * tokens, TINY_CONFIG.width]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.sum(
            transformerBlock(TINY_CONFIG, weights, x, { batch, tokens, index: 0, keep: null }),
          ) as tf.Scalar,
        [...weights.values()],
      );
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...weights.values()]);
  });
});
