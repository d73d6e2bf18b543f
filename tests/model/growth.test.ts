import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { insertedBlocks, interpolationMap, randinitMap } from "../../src/model/depth-map.ts";
import { growWeights } from "../../src/model/growth.ts";
import { disposeWeights, initWeights } from "../../src/model/params.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { FlatLayout } from "../../src/train/flat.ts";
import { createModelState, disposeModelState, growState } from "../../src/train/state.ts";
import { expectAllClose, randomImages, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

async function valuesOf(weights: ReadonlyMap<string, tf.Tensor>, name: string): Promise<number[]> {
  const tensor = weights.get(name);
  if (!tensor) throw new Error(`no ${name}`);
  return values(tensor);
}

describe("growth surgery", () => {
  it("identity growth leaves the network's outputs unchanged", async () => {
    const small = initWeights(TINY_CONFIG, 2, 3);
    const map = interpolationMap(2, 3);
    const grown = growWeights(TINY_CONFIG, small, map, {
      seed: 3,
      salt: 1,
      zeroResidual: insertedBlocks(map),
    });
    const x = randomImages(4, 8, 1, 9);
    const before = forward(TINY_CONFIG, small, x, { side: 8, activeBlocks: fullMask(2) });
    const after = forward(TINY_CONFIG, grown, x, { side: 8, activeBlocks: fullMask(3) });
    expectAllClose(await values(after), await values(before), 1e-5);
    // Plain interpolation (no ReZero) does change the function.
    const plain = growWeights(TINY_CONFIG, small, map, { seed: 3, salt: 1 });
    const changed = forward(TINY_CONFIG, plain, x, { side: 8, activeBlocks: fullMask(3) });
    expect(await values(changed)).not.toEqual(await values(before));
    tf.dispose([x, before, after, changed]);
    for (const w of [small, grown, plain]) disposeWeights(w);
  });

  it("randinit keeps old blocks in place and initialises the rest afresh", async () => {
    const small = initWeights(TINY_CONFIG, 2, 3);
    const grown = growWeights(TINY_CONFIG, small, randinitMap(2, 3), { seed: 3, salt: 1 });
    for (const name of ["blocks.0.attn.qkv.w", "blocks.1.mlp.fc2.w", "embed.pos", "head.w"]) {
      expect(await valuesOf(grown, name)).toEqual(await valuesOf(small, name));
    }
    const fresh = await valuesOf(grown, "blocks.2.attn.qkv.w");
    expect(fresh).not.toEqual(await valuesOf(small, "blocks.0.attn.qkv.w"));
    expect(fresh).not.toEqual(await valuesOf(small, "blocks.1.attn.qkv.w"));
    expect(await valuesOf(grown, "blocks.2.norm1.gamma")).toEqual(Array(8).fill(1));
    disposeWeights(small);
    disposeWeights(grown);
  });

  it("throws on any unexplained mismatch", () => {
    const small = initWeights(TINY_CONFIG, 2, 3);
    const extra = new Map<string, tf.Tensor>([...small, ["mystery", tf.scalar(1)]]);
    expect(() => growWeights(TINY_CONFIG, extra, [0, 1], { seed: 0, salt: 0 })).toThrow(
      /unexpected weights: mystery/,
    );
    const missing = new Map(small);
    missing.delete("blocks.1.mlp.fc1.b");
    expect(() => growWeights(TINY_CONFIG, missing, [0, 1], { seed: 0, salt: 0 })).toThrow(
      /missing source weight/,
    );
    expect(() => growWeights(TINY_CONFIG, small, [0, 2], { seed: 0, salt: 0 })).toThrow(/refers to blocks/);
    tf.dispose(extra.get("mystery"));
    disposeWeights(small);
  });
});

describe("growing a training state", () => {
  const options = { seed: 5, ema: [{ name: "slow", horizon: 0.1 }], stageSteps: 100, weightDecay: 0.05 };

  it("mogrow makes the online weights exactly the interpolated momentum network, and leaks nothing", async () => {
    const baseline = tf.memory().numTensors;
    const state = createModelState(TINY_CONFIG, 2, 8, options);
    // Make the EMA differ from the online weights.
    const slow = state.emas[0];
    if (!slow) throw new Error("no EMA");
    const shifted = new Map(
      [...slow.weights].map(([name, v]) => [name, tf.add(v, (name.length % 7) * 0.01)]),
    );
    slow.replace(shifted);
    disposeWeights(shifted);
    const expected = growWeights(TINY_CONFIG, slow.weights, interpolationMap(2, 3), { seed: 5, salt: 1 });
    growState(state, {
      map: interpolationMap(2, 3),
      operator: "mogrow",
      momentumEma: "slow",
      carryOptimizerState: false,
      seed: 5,
    });
    expect(state.depth).toBe(3);
    expect(state.weights.size).toBe(expected.size);
    for (const name of expected.keys()) {
      expect(await valuesOf(state.weights, name)).toEqual(await valuesOf(expected, name));
      expect(await valuesOf(slow.weights, name)).toEqual(await valuesOf(expected, name));
    }
    disposeWeights(expected);
    disposeModelState(state);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it("carries optimizer moments through the same map when asked, or resets them", async () => {
    const state = createModelState(TINY_CONFIG, 2, 8, options);
    const layout = FlatLayout.of(state.weights);
    const flat = tf.ones([layout.size]) as tf.Tensor1D;
    state.optimizer.apply(state.weights, { layout, flat, updated: null }, 1e-3);
    flat.dispose();
    const firstMoments = () => {
      const { first, second } = state.optimizer.moments();
      disposeWeights(second);
      return first;
    };
    const before = firstMoments();
    const firstBlock1 = await valuesOf(before, "blocks.1.mlp.fc1.w");
    expect(firstBlock1.every((v) => Math.abs(v - 0.1) < 1e-7)).toBe(true);
    disposeWeights(before);
    growState(state, {
      map: interpolationMap(2, 3),
      operator: "interpolation",
      momentumEma: "slow",
      carryOptimizerState: true,
      seed: 5,
    });
    const carried = firstMoments();
    expect(await valuesOf(carried, "blocks.2.mlp.fc1.w")).toEqual(firstBlock1);
    disposeWeights(carried);
    expect(state.optimizer.step).toBe(1);
    growState(state, {
      map: interpolationMap(3, 4),
      operator: "interpolation",
      momentumEma: "slow",
      carryOptimizerState: false,
      seed: 5,
    });
    expect(firstMoments().size).toBe(0);
    expect(state.optimizer.step).toBe(0);
    disposeModelState(state);
  });
});
