import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { blockParamSpecs, initWeights } from "../../src/model/params.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { randomImages, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

describe("elastic ViT forward", () => {
  it("treats inactive blocks as the identity", async () => {
    const weights = initWeights(TINY_CONFIG, 3, 11);
    // The same network built with only blocks 0 and 2 (renumbered 0 and 1).
    const twoBlocks = new Map<string, tf.Tensor>();
    for (const [name, tensor] of weights) {
      if (name.startsWith("blocks.1.")) continue;
      twoBlocks.set(name.replace(/^blocks\.2\./, "blocks.1."), tensor);
    }
    const x = randomImages(2, 8, 1, 5);
    const masked = forward(TINY_CONFIG, weights, x, { side: 8, activeBlocks: [true, false, true] });
    const built = forward(TINY_CONFIG, twoBlocks, x, { side: 8, activeBlocks: [true, true] });
    expect(await values(masked)).toEqual(await values(built));
    tf.dispose([masked, built, x, ...weights.values()]);
  });

  it("runs at a smaller side with the resized position table", () => {
    const weights = initWeights(TINY_CONFIG, 3, 11);
    const x = randomImages(2, 4, 1, 5);
    const logits = forward(TINY_CONFIG, weights, x, { side: 4, activeBlocks: fullMask(3) });
    expect(logits.shape).toEqual([2, 3]);
    expect(() => forward(TINY_CONFIG, weights, x, { side: 8, activeBlocks: fullMask(3) })).toThrow(/side 8/);
    tf.dispose([logits, x, ...weights.values()]);
  });

  it("initialises identically from the same seed and differently from another", async () => {
    const a = initWeights(TINY_CONFIG, 1, 3);
    const b = initWeights(TINY_CONFIG, 1, 3);
    const c = initWeights(TINY_CONFIG, 1, 4);
    const name = blockParamSpecs(TINY_CONFIG, 0, 1)[2]?.name ?? "";
    expect(await values(a.get(name) as tf.Tensor)).toEqual(await values(b.get(name) as tf.Tensor));
    expect(await values(a.get(name) as tf.Tensor)).not.toEqual(await values(c.get(name) as tf.Tensor));
    tf.dispose([...a.values(), ...b.values(), ...c.values()]);
  });
});
