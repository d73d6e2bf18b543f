import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { forwardFlops } from "../../src/core/flops.ts";
import { depthParts, type ViTConfig } from "../../src/model/config.ts";
import { insertedBlocks, modelDepthMap } from "../../src/model/depth-map.ts";
import { growWeights } from "../../src/model/growth.ts";
import { disposeWeights, initWeights } from "../../src/model/params.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { candidateMask, createSupernet, selectionMap } from "../../src/train/supernet.ts";
import { expectAllClose, randomImages, TINY_VOLO, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

/** Six blocks, two of them outlookers: a 3-block sub-network is 1 outlooker + 2 transformer blocks. */
const VOLO6: ViTConfig = {
  ...TINY_VOLO,
  depth: 6,
  volo: { ...(TINY_VOLO.volo as NonNullable<ViTConfig["volo"]>), outlookers: 2 },
};

describe("VOLO depth parts and growth maps", () => {
  it("splits a sub-network's depth in the full model's proportions, both parts never shrinking", () => {
    expect([1, 2, 3, 4, 5, 6].map((l) => depthParts(VOLO6, l))).toEqual([
      [0, 1],
      [1, 1],
      [1, 2],
      [1, 3],
      [2, 3],
      [2, 4],
    ]);
  });

  it("grows each part on its own, never copying an outlooker into a transformer block", () => {
    expect(modelDepthMap(VOLO6, 3, 6, "interpolation")).toEqual([0, 0, 1, 1, 2, 2]);
    expect(modelDepthMap(VOLO6, 3, 6, "mogrow")).toEqual([0, 0, 1, 1, 2, 2]);
    expect(modelDepthMap(VOLO6, 3, 6, "stacking")).toEqual([0, 0, 1, 2, 1, 2]);
    expect(modelDepthMap(VOLO6, 3, 6, "randinit")).toEqual([0, null, 1, 2, null, null]);
    expect(modelDepthMap(VOLO6, 1, 3, "interpolation")).toEqual([null, 0, 0]);
  });

  it("identity growth leaves a VOLO's outputs unchanged (ReZero on new outlookers and blocks)", async () => {
    const small = initWeights(VOLO6, 3, 3);
    const map = modelDepthMap(VOLO6, 3, 6, "identity");
    const grown = growWeights(VOLO6, small, map, { seed: 3, salt: 1, zeroResidual: insertedBlocks(map) });
    const x = randomImages(2, 8, 1, 9);
    const before = forward(VOLO6, small, x, { side: 8, activeBlocks: fullMask(3) });
    const after = forward(VOLO6, grown, x, { side: 8, activeBlocks: fullMask(6) });
    expectAllClose(await values(after), await values(before), 1e-5);
    const plain = growWeights(VOLO6, small, map, { seed: 3, salt: 1 });
    const changed = forward(VOLO6, plain, x, { side: 8, activeBlocks: fullMask(6) });
    expect(await values(changed)).not.toEqual(await values(before));
    tf.dispose([x, before, after, changed]);
    for (const w of [small, grown, plain]) disposeWeights(w);
  });
});

describe("VOLO supernet", () => {
  const space = [3, 4, 5, 6].map((depth) => ({ depth, side: 8 }));

  it("a candidate holds its depth's outlookers and transformer blocks", () => {
    const supernet = createSupernet(1, space, 3, { start: 0, end: 1 }, undefined, VOLO6);
    // Held 6 = outlookers {0, 1} + blocks {2..5}; inserted by 3 → 6: 1 (outlooker), 3 and 5.
    expect(supernet.inserted).toEqual([1, 3, 5]);
    expect(candidateMask(supernet, 3, VOLO6)).toEqual([true, false, true, false, true, false]);
    expect(candidateMask(supernet, 4, VOLO6)).toEqual([true, false, true, false, true, true]);
    expect(candidateMask(supernet, 5, VOLO6)).toEqual([true, true, true, false, true, true]);
    expect(candidateMask(supernet, 6, VOLO6)).toEqual(fullMask(6));
    for (const depth of [3, 4, 5, 6]) {
      const mask = candidateMask(supernet, depth, VOLO6);
      const [outlookers] = depthParts(VOLO6, depth);
      expect(mask.slice(0, 2).filter(Boolean).length).toBe(outlookers);
    }
  });

  it("a candidate read out of the supernet is the same network built alone", async () => {
    const supernetWeights = initWeights(VOLO6, 6, 5);
    const supernet = createSupernet(1, space, 3, { start: 0, end: 1 }, undefined, VOLO6);
    const x = randomImages(2, 8, 1, 4);
    for (const depth of [4, 5]) {
      const mask = candidateMask(supernet, depth, VOLO6);
      const alone = growWeights(VOLO6, supernetWeights, selectionMap(mask), { seed: 0, salt: 0 });
      const inside = forward(VOLO6, supernetWeights, x, { side: 8, activeBlocks: mask });
      const built = forward(VOLO6, alone, x, { side: 8, activeBlocks: fullMask(depth) });
      expectAllClose(await values(built), await values(inside), 1e-6);
      tf.dispose([inside, built]);
      disposeWeights(alone);
    }
    tf.dispose(x);
    disposeWeights(supernetWeights);
  });

  it("FLOPs grow with depth and side and count each part", () => {
    const flops = [3, 4, 5, 6].map((l) => forwardFlops(VOLO6, l, 8));
    expect(flops).toEqual([...flops].sort((a, b) => a - b));
    expect(forwardFlops(VOLO6, 6, 16)).toBeGreaterThan(4 * forwardFlops(VOLO6, 6, 8) * 0.9);
  });
});
