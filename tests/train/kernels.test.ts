import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { VARIANTS, type VariantName } from "../../src/model/config.ts";
import { fullMask } from "../../src/model/vit.ts";
import { createModelState, disposeModelState } from "../../src/train/state.ts";
import { trainStep } from "../../src/train/step.ts";
import { useTestBackend } from "../helpers.ts";

beforeAll(useTestBackend);

/**
 * Kernels launched by one training step (forward, backward, AdamW, two EMAs), counted by
 * tf.profile as bench:engine does. On an accelerator each kernel costs ~0.1 ms of host dispatch,
 * so the count is the engine's budget: it does not depend on the batch size, so a tiny batch
 * keeps the test fast. Before the fused backward passes and flat optimizer buffers: 3,699
 * (micro) and 6,839 (tiny).
 */
describe.each([
  { variant: "micro" as VariantName, budget: 1200 },
  { variant: "tiny" as VariantName, budget: 2000 },
])("a $variant training step on wasm at 32 px with two EMAs", ({ variant, budget }) => {
  it(`launches at most ${budget} kernels`, async () => {
    const side = 32;
    const batch = 2;
    const config = { ...VARIANTS[variant], imageSize: side, channels: 1, numClasses: 10 };
    const state = createModelState(config, config.depth, side, {
      seed: 0,
      ema: [
        { name: "fast", horizon: 0.02 },
        { name: "slow", horizon: 0.2 },
      ],
      stageSteps: 100,
      weightDecay: 0.05,
    });
    const labels = Uint8Array.from({ length: batch }, (_, i) => i);
    const targets = new Float32Array(batch * 10);
    labels.forEach((label, i) => {
      targets[i * 10 + label] = 1;
    });
    const input = {
      x: Float32Array.from({ length: batch * side * side }, (_, i) => Math.sin(i)),
      targets,
      labels,
      size: batch,
      side,
      channels: 1,
      numClasses: 10,
    };
    const options = {
      side,
      activeBlocks: fullMask(config.depth),
      lr: 1e-3,
      labelSmoothing: 0.1,
      gradClipNorm: 1,
      dropPath: null,
    };
    await trainStep(state, input, options); // warm-up: the optimizer builds its buffers once
    const profile = await tf.profile(async () => {
      await trainStep(state, input, options);
    });
    disposeModelState(state);
    expect(profile.kernels.length).toBeGreaterThan(100);
    expect(profile.kernels.length).toBeLessThanOrEqual(budget);
  });
});
