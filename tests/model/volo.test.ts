import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { parameterCount } from "../../src/core/flops.ts";
import { classBlock } from "../../src/model/class-block.ts";
import type { ViTConfig } from "../../src/model/config.ts";
import { outlooker } from "../../src/model/outlooker.ts";
import { blockPrefix, initWeights, paramSpecs, type WeightMap } from "../../src/model/params.ts";
import { fold3x3s2, unfold3x3s2 } from "../../src/model/unfold.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { classBlockPrefix } from "../../src/model/volo-params.ts";
import { expectAllClose, randomImages, TINY_VOLO, useTestBackend, values } from "../helpers.ts";
import { referenceClassBlock, referenceOutlooker, unfoldMatrix } from "../support/reference-volo.ts";

beforeAll(useTestBackend);

describe("outlook unfold and fold", () => {
  it("unfold equals the 0/1 matrix unfold and fold is its adjoint", async () => {
    const grid = { batch: 2, side: 6, channels: 3 };
    const x = tf.randomNormal([2, 6, 6, 3], 0, 1, "float32", 1);
    const ours = unfold3x3s2(x, grid); // [9, B·h·w·C]
    const gridMajor = tf.reshape(tf.transpose(tf.reshape(x, [2, 36, 3]), [1, 0, 2]), [36, 6]);
    const viaMatrix = tf.reshape(
      tf.transpose(tf.reshape(tf.matMul(unfoldMatrix(6), gridMajor), [9, 9, 2, 3]), [0, 2, 1, 3]),
      [9, 2 * 9 * 3],
    );
    expectAllClose(await values(ours), await values(viaMatrix), 1e-6);
    const y = tf.randomNormal([9, 2 * 9 * 3], 0, 1, "float32", 2);
    const left = await values(tf.sum(tf.mul(ours, y)));
    const right = await values(tf.sum(tf.mul(x, fold3x3s2(y, grid))));
    expectAllClose(left, right, 1e-4);
  });
});

/** Block weights randomised (norms and biases too) so every gradient term is exercised. */
function randomise(weights: Map<string, tf.Variable>, prefix: string): void {
  for (const [name, variable] of weights) {
    if (!name.startsWith(prefix)) continue;
    const mean = name.endsWith("gamma") ? 1 : 0;
    variable.assign(
      tf.randomNormal(variable.shape, mean, name.endsWith(".w") ? 0.3 : 0.3, "float32", name.length),
    );
  }
}

type BlockFn<S> = (config: ViTConfig, weights: WeightMap, x: tf.Tensor2D, shape: S) => tf.Tensor2D;

async function expectMatchesReference<S>(
  ours: BlockFn<S>,
  reference: BlockFn<S>,
  weights: Map<string, tf.Variable>,
  prefix: string,
  rows: number,
  width: number,
  shape: S,
): Promise<void> {
  const x = tf.randomNormal([rows, width], 0, 1, "float32", 5) as tf.Tensor2D;
  const upstream = tf.randomNormal([rows, width], 0, 1, "float32", 6);
  const names = [...weights.keys()].filter((n) => n.startsWith(prefix));
  const lossOf =
    (block: BlockFn<S>) =>
    (...tensors: tf.Tensor[]) => {
      const map = new Map<string, tf.Tensor>(weights);
      names.forEach((name, i) => {
        map.set(name, tensors[i + 1] as tf.Tensor);
      });
      return tf.sum(tf.mul(block(TINY_VOLO, map, tensors[0] as tf.Tensor2D, shape), upstream)) as tf.Scalar;
    };
  const inputs = [x, ...names.map((n) => weights.get(n) as tf.Tensor)];
  const got = tf.valueAndGrads(lossOf(ours))(inputs);
  const want = tf.valueAndGrads(lossOf(reference))(inputs);
  expectAllClose(await values(got.value), await values(want.value), 1e-4);
  expect(got.grads.length).toBe(names.length + 1);
  for (let i = 0; i < got.grads.length; i++) {
    const a = await values(got.grads[i] as tf.Tensor);
    const b = await values(want.grads[i] as tf.Tensor);
    const scale = Math.max(1, ...b.map(Math.abs));
    expectAllClose(
      a.map((v) => v / scale),
      b.map((v) => v / scale),
      1e-5,
    );
  }
  tf.dispose([x, upstream, got.value, want.value, ...got.grads, ...want.grads]);
}

describe.each([
  { label: "plain", dropPath: false, rezero: false },
  { label: "with a drop-path mask", dropPath: true, rezero: false },
  { label: "with ReZero and a drop-path mask", dropPath: true, rezero: true },
])("fused outlooker, $label", ({ dropPath, rezero }) => {
  it("matches the plain-op outlooker and its autograd gradients", async () => {
    const weights = initWeights(TINY_VOLO, TINY_VOLO.depth, 11);
    randomise(weights, blockPrefix(0));
    if (rezero) weights.set(`${blockPrefix(0)}rezero`, tf.variable(tf.scalar(0.7)));
    const batch = 2;
    const grid = 6; // a 3×3 pooled grid: borders and interior windows
    const cells = grid * grid;
    const keep = dropPath
      ? tf.tensor2d(
          Array.from({ length: batch * cells }, (_, i) => (Math.floor(i / cells) === 1 ? 0 : 2)),
          [batch * cells, 1],
        )
      : null;
    await expectMatchesReference(outlooker, referenceOutlooker, weights, blockPrefix(0), batch * cells, 4, {
      batch,
      grid,
      index: 0,
      keep,
    });
    tf.dispose([keep ?? [], ...weights.values()]);
  });
});

describe("fused class-attention block", () => {
  it("matches the plain-op block and its autograd gradients", async () => {
    const weights = initWeights(TINY_VOLO, TINY_VOLO.depth, 12);
    randomise(weights, classBlockPrefix(0));
    await expectMatchesReference(classBlock, referenceClassBlock, weights, classBlockPrefix(0), 3 * 5, 8, {
      batch: 3,
      tokens: 5,
      index: 0,
    });
    tf.dispose([...weights.values()]);
  });
});

describe("VOLO model", () => {
  it("holds outlookers first, then transformer blocks, and counts its parameters", () => {
    const names = paramSpecs(TINY_VOLO, 3).map((s) => s.name);
    expect(names).toContain("blocks.0.outlook.attn.w");
    expect(names).toContain("blocks.1.attn.qkv.w");
    expect(names).toContain("cls_blocks.0.attn.kv.w");
    const total = paramSpecs(TINY_VOLO, 3).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(parameterCount(TINY_VOLO, 3)).toBe(total);
  });

  it("every trainable weight gets a finite, non-zero gradient; smaller sides run on the same weights", async () => {
    const weights = initWeights(TINY_VOLO, TINY_VOLO.depth, 7);
    const x = randomImages(4, 8, 1, 3);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          labels,
          forward(TINY_VOLO, weights, x, {
            side: 8,
            activeBlocks: fullMask(3),
            dropPath: { rate: 0.1, random: () => 0.5 },
          }),
        ) as tf.Scalar,
      [...weights.values()],
    );
    const byName = new Map([...weights.entries()].map(([name, v]) => [v.name, name]));
    expect(Object.keys(grads).length).toBe(weights.size);
    for (const [key, grad] of Object.entries(grads)) {
      const g = await values(grad);
      expect(g.every(Number.isFinite), `${byName.get(key)} finite`).toBe(true);
      expect(
        g.some((v) => v !== 0),
        `${byName.get(key)} non-zero`,
      ).toBe(true);
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // Side 16 would be 4×4 tokens; 8 → 2×2 is the full side; the elastic side takes multiples of 2·patch.
    const small = tf.tidy(() =>
      forward(TINY_VOLO, weights, tf.slice(x, [0, 0, 0, 0], [4, 8, 8, 1]), {
        side: 8,
        activeBlocks: [true, false, true],
      }),
    );
    expect(small.shape).toEqual([4, 3]);
    tf.dispose([small, x, labels, ...weights.values()]);
  });
});
