import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwardFlops, parameterCount } from "../../src/core/flops.ts";
import { stageBlocks } from "../../src/core/resnet-config.ts";
import { depthParts, modelConfigFromSpec, type ViTConfig } from "../../src/model/config.ts";
import { insertedBlocks, modelDepthMap } from "../../src/model/depth-map.ts";
import { growWeights } from "../../src/model/growth.ts";
import { disposeWeights, initWeights, paramSpecs } from "../../src/model/params.ts";
import { conv3x3, groupNorm } from "../../src/model/resnet.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { candidateMask, createSupernet, selectionMap } from "../../src/train/supernet.ts";
import { expectAllClose, randomImages, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);
afterAll(useTestBackend);

/** 8-px images, stages 4/8 channels of [2, 2] blocks, 2 groups: 8×8 then 4×4 maps. */
const TINY_RESNET: ViTConfig = {
  family: "resnet",
  imageSize: 8,
  patchSize: 2,
  channels: 1,
  width: 8,
  depth: 4,
  heads: 1,
  mlpRatio: 1,
  numClasses: 3,
  resnet: { stageWidths: [4, 8], stageDepths: [2, 2], groups: 2 },
};

/** Reference: tf.conv2d with explicit padding 1 (PyTorch's convention, also at stride 2). */
const reference = (x: tf.Tensor4D, w: tf.Tensor2D, stride: 1 | 2, cin: number) =>
  tf.conv2d(x, tf.reshape(w, [3, 3, cin, w.shape[1]]) as tf.Tensor4D, stride, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);

describe("ResNet layers", () => {
  it("the im2col 3×3 convolution equals tf.conv2d, its gradients too (stride 1 and 2)", async () => {
    // The wasm backend has no conv2d filter gradient: the reference runs on tfjs's cpu backend.
    await tf.setBackend("cpu");
    for (const stride of [1, 2] as const) {
      const x = randomImages(2, 6, 3, 1 + stride);
      const w = tf.randomNormal([27, 5], 0, 0.3, "float32", 7) as tf.Tensor2D;
      const r = tf.randomNormal([2, 6 / stride, 6 / stride, 5], 0, 1, "float32", 9);
      const loss = (f: typeof conv3x3) => (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor2D, stride), r));
      const mine = tf.grads(loss(conv3x3));
      const theirs = tf.grads(loss((a, b) => reference(a, b as tf.Tensor2D, stride, 3)));
      expectAllClose(await values(conv3x3(x, w, stride)), await values(reference(x, w, stride, 3)), 1e-5);
      const [dx, dw] = mine([x, w]);
      const [rx, rw] = theirs([x, w]);
      expectAllClose(await values(dx as tf.Tensor), await values(rx as tf.Tensor), 1e-4);
      expectAllClose(await values(dw as tf.Tensor), await values(rw as tf.Tensor), 1e-4);
    }
    await useTestBackend();
  });

  it("the im2col convolution equals tf.conv2d on the test backend too", async () => {
    const x = randomImages(2, 8, 4, 3);
    const w = tf.randomNormal([36, 4], 0, 0.3, "float32", 5) as tf.Tensor2D;
    for (const stride of [1, 2] as const)
      expectAllClose(await values(conv3x3(x, w, stride)), await values(reference(x, w, stride, 4)), 1e-4);
    tf.dispose([x, w]);
  });

  it("GroupNorm normalises each sample's groups to mean 0 and variance 1", async () => {
    const x = tf.add(tf.mul(randomImages(2, 4, 6, 11), 3), 5) as tf.Tensor4D;
    const y = groupNorm(x, tf.ones([6]), tf.zeros([6]), 3);
    const grouped = tf.reshape(y, [2, 16, 3, 2]);
    const { mean, variance } = tf.moments(grouped, [1, 3]);
    expectAllClose(await values(mean), new Array(6).fill(0), 1e-4);
    expectAllClose(await values(variance), new Array(6).fill(1), 1e-3);
  });

  it("the full network gives logits at every side and finite, nonzero gradients for every weight, leaking nothing", async () => {
    const weights = initWeights(TINY_RESNET, 4, 1);
    const x = randomImages(3, 8, 1, 2);
    const small = randomImages(3, 4, 1, 3);
    const before = tf.memory().numTensors;
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2], "int32"), 3));
    const names = [...weights.keys()];
    const { value, grads } = tf.valueAndGrads((...tensors: tf.Tensor[]) => {
      const map = new Map(names.map((name, i) => [name, tensors[i] as tf.Tensor]));
      const logits = forward(TINY_RESNET, map, x, { side: 8, activeBlocks: fullMask(4) });
      return tf.mean(tf.sum(tf.mul(tf.neg(labels), tf.logSoftmax(logits)), 1)) as tf.Scalar;
    })(names.map((name) => weights.get(name) as tf.Tensor));
    expect(Number.isFinite((await value.data())[0])).toBe(true);
    expect([...names].sort()).toEqual(
      paramSpecs(TINY_RESNET, 4)
        .map((s) => s.name)
        .sort(),
    );
    for (const [i, name] of [...weights.keys()].entries()) {
      const data = await (grads[i] as tf.Tensor).data();
      expect(data.every(Number.isFinite), name).toBe(true);
      expect(
        data.some((v) => v !== 0),
        name,
      ).toBe(true);
    }
    tf.dispose([value, labels, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    const logits = forward(TINY_RESNET, weights, small, { side: 4, activeBlocks: fullMask(4) });
    expect(logits.shape).toEqual([3, 3]);
    tf.dispose([x, small, logits]);
    disposeWeights(weights);
  });
});

describe("ResNet depth, FLOPs and parameters", () => {
  it("deals a sub-network's blocks over the stages, no stage ever shrinking", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((l) => stageBlocks([2, 2, 2], l))).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [1, 1, 0],
      [1, 1, 1],
      [2, 1, 1],
      [2, 2, 1],
      [2, 2, 2],
    ]);
    expect(stageBlocks([1, 2, 4], 4)).toEqual([1, 1, 2]);
  });

  it("counts parameters exactly as the model holds them, at every depth", () => {
    const micro = modelConfigFromSpec(
      { family: "resnet", variant: "micro" },
      { imageSize: 28, channels: 1, numClasses: 10 },
    );
    for (const config of [TINY_RESNET, micro])
      for (let depth = 1; depth <= config.depth; depth++) {
        const held = paramSpecs(config, depth).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
        expect(parameterCount(config, depth)).toBe(held);
      }
  });

  it("counts resnet-micro's forward FLOPs by the convolution formula (hand count at 28 px)", () => {
    const micro = modelConfigFromSpec(
      { family: "resnet", variant: "micro" },
      { imageSize: 28, channels: 1, numClasses: 10 },
    );
    const conv = (side: number, cin: number, cout: number) => 2 * side * side * 9 * cin * cout;
    const expected =
      conv(28, 1, 16) +
      4 * conv(28, 16, 16) +
      conv(14, 16, 32) +
      4 * conv(14, 32, 32) +
      conv(7, 32, 64) +
      4 * conv(7, 64, 64) +
      2 * 64 * 10;
    expect(forwardFlops(micro, 6, 28)).toBe(expected);
    // Depth 3 is one block per stage: 3 blocks' two convolutions fewer.
    expect(forwardFlops(micro, 3, 28)).toBe(
      expected - 2 * (conv(28, 16, 16) + conv(14, 32, 32) + conv(7, 64, 64)),
    );
  });
});

describe("ResNet growth and supernet", () => {
  it("grows each stage on its own", () => {
    expect(depthParts(TINY_RESNET, 2)).toEqual([1, 1]);
    expect(modelDepthMap(TINY_RESNET, 2, 4, "interpolation")).toEqual([0, 0, 1, 1]);
    expect(modelDepthMap(TINY_RESNET, 2, 4, "stacking")).toEqual([0, 0, 1, 1]);
    expect(modelDepthMap(TINY_RESNET, 1, 4, "randinit")).toEqual([0, null, null, null]);
  });

  it("identity growth leaves the network's outputs unchanged (ReZero on new blocks); other growth does not", async () => {
    const small = initWeights(TINY_RESNET, 2, 3);
    const map = modelDepthMap(TINY_RESNET, 2, 4, "identity");
    const grown = growWeights(TINY_RESNET, small, map, {
      seed: 3,
      salt: 1,
      zeroResidual: insertedBlocks(map),
    });
    const x = randomImages(2, 8, 1, 9);
    const before = forward(TINY_RESNET, small, x, { side: 8, activeBlocks: fullMask(2) });
    const after = forward(TINY_RESNET, grown, x, { side: 8, activeBlocks: fullMask(4) });
    expectAllClose(await values(after), await values(before), 1e-5);
    const plain = growWeights(TINY_RESNET, small, map, { seed: 3, salt: 1 });
    const changed = forward(TINY_RESNET, plain, x, { side: 8, activeBlocks: fullMask(4) });
    expect(await values(changed)).not.toEqual(await values(before));
    tf.dispose([x, before, after, changed]);
    for (const w of [small, grown, plain]) disposeWeights(w);
  });

  it("a candidate read out of the supernet is the same network built alone", async () => {
    const space = [2, 3, 4].map((depth) => ({ depth, side: 8 }));
    const supernetWeights = initWeights(TINY_RESNET, 4, 5);
    const supernet = createSupernet(1, space, 2, { start: 0, end: 1 }, undefined, TINY_RESNET);
    expect(supernet.inserted).toEqual([1, 3]);
    expect(candidateMask(supernet, 3, TINY_RESNET)).toEqual([true, true, true, false]);
    const x = randomImages(2, 8, 1, 4);
    for (const depth of [2, 3]) {
      const mask = candidateMask(supernet, depth, TINY_RESNET);
      const alone = growWeights(TINY_RESNET, supernetWeights, selectionMap(mask), { seed: 0, salt: 0 });
      const inside = forward(TINY_RESNET, supernetWeights, x, { side: 8, activeBlocks: mask });
      const built = forward(TINY_RESNET, alone, x, { side: 8, activeBlocks: fullMask(depth) });
      expectAllClose(await values(built), await values(inside), 1e-6);
      tf.dispose([inside, built]);
      disposeWeights(alone);
    }
    tf.dispose(x);
    disposeWeights(supernetWeights);
  });
});
