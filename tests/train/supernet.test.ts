import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createRandom } from "../../src/core/random.ts";
import { growWeights } from "../../src/model/growth.ts";
import { disposeWeights, initWeights } from "../../src/model/params.ts";
import { forward } from "../../src/model/vit.ts";
import { candidateMask, createSupernet, sampleArchitecture, selectionMap } from "../../src/train/supernet.ts";
import { randomImages, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

const config = { ...TINY_CONFIG, depth: 6 };
const space = [4, 5, 6].flatMap((depth) => [4, 8].map((side) => ({ depth, side })));

describe("elastic supernet", () => {
  it("activates the previous blocks plus the last inserted ones, from the classifier end", () => {
    // 3 → 6 by interpolation inserts blocks 1, 3, 5.
    const supernet = createSupernet(1, space, 3, { start: 0, end: 1 });
    expect(supernet.inserted).toEqual([1, 3, 5]);
    expect(candidateMask(supernet, 4)).toEqual([true, false, true, false, true, true]);
    expect(candidateMask(supernet, 5)).toEqual([true, false, true, true, true, true]);
    expect(candidateMask(supernet, 6)).toEqual([true, true, true, true, true, true]);
    expect(() => candidateMask(supernet, 2)).toThrow(/outside the supernet/);
  });

  it("reads out a candidate bit-identical to the same sub-network built on its own", async () => {
    const supernet = createSupernet(1, space, 3, { start: 0, end: 1 });
    const weights = initWeights(config, 6, 21);
    const x = randomImages(3, 4, 1, 8);
    for (const depth of [4, 5, 6]) {
      const mask = candidateMask(supernet, depth);
      const standalone = growWeights(config, weights, selectionMap(mask), { seed: 0, salt: 0 });
      const readOut = forward(config, weights, x, { side: 4, activeBlocks: mask });
      const built = forward(config, standalone, x, { side: 4, activeBlocks: Array(depth).fill(true) });
      expect(await values(readOut)).toEqual(await values(built));
      tf.dispose([readOut, built]);
      disposeWeights(standalone);
    }
    x.dispose();
    disposeWeights(weights);
  });

  it("samples side and depth uniformly and independently with a seeded generator", () => {
    const supernet = createSupernet(0, space, 4, { start: 0, end: 2 });
    const counts = new Map<string, number>();
    const random = createRandom(7);
    for (let i = 0; i < 6000; i++) {
      const a = sampleArchitecture(supernet, random);
      counts.set(`${a.depth}@${a.side}`, (counts.get(`${a.depth}@${a.side}`) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(150);
    const again = createRandom(7);
    expect(sampleArchitecture(supernet, again)).toEqual(sampleArchitecture(supernet, createRandom(7)));
  });
});
