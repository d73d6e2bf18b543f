import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompiledModel, LOSS_SCALE_DEFAULTS } from "../../../src/backend/compiled/model.ts";
import type { ViTConfig } from "../../../src/model/config.ts";
import { initWeights, isDecayed } from "../../../src/model/params.ts";
import { ADAMW_DEFAULTS } from "../../../src/train/adamw.ts";
import { dawnDevice } from "./harness.ts";
import { randomArray } from "./reference.ts";

/**
 * Mixed precision in the compiled step on a real adapter (lavapipe in CI): f16 matmul inputs
 * with dynamic loss scaling against the same step in fp32, and what an overflow does — the step
 * is skipped (weights, moments and EMAs untouched, no AdamW update counted) and the scale halves.
 */
let device: GPUDevice | null = null;
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else if (!found.device.features.has("shader-f16")) {
    skip = "the adapter has no shader-f16";
    found.device.destroy();
  } else device = found.device;
});
afterAll(() => device?.destroy());

const config: ViTConfig = {
  imageSize: 8,
  patchSize: 4,
  channels: 2,
  width: 16,
  depth: 2,
  heads: 2,
  mlpRatio: 2,
  numClasses: 5,
};
const adamw = { ...ADAMW_DEFAULTS, weightDecay: 0.05 };
const request = {
  activeBlocks: [true, true],
  side: 8,
  batch: 4,
  dropPath: false,
  clip: true,
  labelSmoothing: 0.1,
};

function batch(seed: number) {
  const labels = Uint8Array.from({ length: 4 }, (_, i) => (i + seed) % config.numClasses);
  const targets = new Float32Array(4 * config.numClasses);
  labels.forEach((label, b) => {
    targets[b * config.numClasses + label] = 1;
  });
  return { x: randomArray(4 * 8 * 8 * config.channels, seed), targets, labels };
}

function model(gpu: GPUDevice, mixed: boolean, growthInterval: number = LOSS_SCALE_DEFAULTS.growthInterval) {
  const weights = initWeights(config, config.depth, 3);
  const shapes = [...weights].map(([name, w]) => [name, w.shape] as const);
  const values = new Map([...weights].map(([name, w]) => [name, w.dataSync() as Float32Array]));
  for (const w of weights.values()) w.dispose();
  const compiled = new CompiledModel(gpu, config, shapes, {
    emas: 1,
    adamw,
    decayed: isDecayed,
    ...(mixed ? { matmuls: { kind: "f16" } as const, lossScaling: { growthInterval } } : {}),
  });
  compiled.write("params", values);
  compiled.write({ ema: 0 }, values);
  return compiled;
}

const scalars = (step: number) => ({ lr: 1e-3, optimizerStep: step, maxNorm: 1, emaDecays: [0.9] });
const flat = async (compiled: CompiledModel, target: Parameters<CompiledModel["read"]>[0]) =>
  Float32Array.from([...(await compiled.read(target)).values()].flatMap((v) => [...v]));

describe("mixed precision in the compiled step", () => {
  it("gradients (unscaled) match fp32's within 1% of each tensor's largest magnitude", async (context) => {
    if (!device) return context.skip(skip);
    const fp32 = model(device, false);
    const mixed = model(device, true);
    try {
      const a = await fp32.step(fp32.plan(request), batch(1), scalars(1));
      const b = await mixed.step(mixed.plan(request), batch(1), scalars(1));
      expect(b.lossScale).toMatchObject({
        scale: LOSS_SCALE_DEFAULTS.initialScale,
        skipped: false,
        appliedUpdates: 1,
      });
      // The loss is computed in f32 from f16-fed activations: within 1% here.
      expect(Math.abs(b.loss - a.loss) / a.loss).toBeLessThan(0.01);
      const reference = await fp32.readGradients();
      const scaled = await mixed.readGradients();
      for (const [name, expected] of reference) {
        const got = scaled.get(name) as Float32Array;
        const peak = Math.max(...expected.map(Math.abs), 1e-12);
        const worst = Math.max(
          ...expected.map((e, i) => Math.abs((got[i] as number) / LOSS_SCALE_DEFAULTS.initialScale - e)),
        );
        expect(worst / peak, name).toBeLessThan(0.01);
      }
    } finally {
      fp32.dispose();
      mixed.dispose();
    }
  }, 400_000); // two models compile their pipelines on lavapipe: ~2 min under load

  it("an injected inf skips exactly that step and halves the scale; the next step updates again", async (context) => {
    if (!device) return context.skip(skip);
    const compiled = model(device, true);
    try {
      const plan = compiled.plan(request);
      const first = await compiled.step(plan, batch(1), scalars(1));
      expect(first.lossScale).toMatchObject({ skipped: false, appliedUpdates: 1, skippedSteps: 0 });
      const before = {
        params: await flat(compiled, "params"),
        first: await flat(compiled, "firstMoment"),
        second: await flat(compiled, "secondMoment"),
        ema: await flat(compiled, { ema: 0 }),
      };
      const poisoned = batch(2);
      poisoned.x[7] = Number.POSITIVE_INFINITY;
      const skipped = await compiled.step(plan, poisoned, scalars(2));
      expect(skipped.lossScale).toEqual({
        scale: LOSS_SCALE_DEFAULTS.initialScale / 2,
        cleanSteps: 0,
        skippedSteps: 1,
        appliedUpdates: 1,
        skipped: true,
      });
      expect(await flat(compiled, "params")).toEqual(before.params);
      expect(await flat(compiled, "firstMoment")).toEqual(before.first);
      expect(await flat(compiled, "secondMoment")).toEqual(before.second);
      expect(await flat(compiled, { ema: 0 })).toEqual(before.ema);
      const next = await compiled.step(plan, batch(3), scalars(3));
      expect(next.lossScale).toMatchObject({
        skipped: false,
        appliedUpdates: 2,
        skippedSteps: 1,
        cleanSteps: 1,
      });
      expect(Number.isFinite(next.loss)).toBe(true);
      expect(await flat(compiled, "params")).not.toEqual(before.params);
    } finally {
      compiled.dispose();
    }
    expect(compiled.buffers.liveCount).toBe(0);
  });

  it("doubles the scale after growthInterval clean steps, and takes a state written from the host", async (context) => {
    if (!device) return context.skip(skip);
    const compiled = model(device, true, 2);
    try {
      const plan = compiled.plan(request);
      compiled.writeLossScale({ scale: 1024, cleanSteps: 0, skippedSteps: 5, appliedUpdates: 10 });
      const one = await compiled.step(plan, batch(1), scalars(11));
      expect(one.lossScale).toMatchObject({
        scale: 1024,
        cleanSteps: 1,
        skippedSteps: 5,
        appliedUpdates: 11,
      });
      const two = await compiled.step(plan, batch(2), scalars(12));
      expect(two.lossScale).toMatchObject({ scale: 2048, cleanSteps: 0, appliedUpdates: 12 });
      expect(await compiled.readLossScale()).toEqual({
        scale: 2048,
        cleanSteps: 0,
        skippedSteps: 5,
        appliedUpdates: 12,
      });
    } finally {
      compiled.dispose();
    }
  });
});
