import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepMasks } from "../../../src/backend/compiled/inputs.ts";
import { CompiledModel } from "../../../src/backend/compiled/model.ts";
import { createRandom } from "../../../src/core/random.ts";
import { VARIANTS, type ViTConfig } from "../../../src/model/config.ts";
import { initWeights, isDecayed, paramSpecs } from "../../../src/model/params.ts";
import { ADAMW_DEFAULTS, AdamW } from "../../../src/train/adamw.ts";
import type { BatchArrays } from "../../../src/train/batch-tensors.ts";
import { EmaCopy } from "../../../src/train/ema.ts";
import { batchGradients, readLossAndCorrect } from "../../../src/train/gradients.ts";
import { applyGradients, type StepModel } from "../../../src/train/step.ts";
import { dawnDevice } from "./harness.ts";
import { randomArray } from "./reference.ts";

/*
 * One compiled training step against the tfjs step from the same weights and batch. Tolerances:
 * gradients and first moments within 1e-4 of each tensor's largest magnitude (fp32 sums of ≤ 100
 * terms in another order, and an erf approximation good to 1.5e-7); second moments likewise
 * (squares); weights and EMAs within 2e-6 absolutely plus 1% of lr on the few elements whose
 * gradient is so small that AdamW's first step (m̂/√v̂ ≈ ±1) turns a rounding difference into a
 * different update — counted, and required to be under 0.5% of the elements.
 */
let device: GPUDevice | null = null;
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else device = found.device;
});
afterAll(() => device?.destroy());

const config: ViTConfig = {
  imageSize: 8,
  patchSize: 4,
  channels: 2,
  width: 16,
  depth: 3,
  heads: 2,
  mlpRatio: 2,
  numClasses: 5,
};
const adamw = { ...ADAMW_DEFAULTS, weightDecay: 0.05 };
const EMA_DECAYS = [0.9, 0.99];

function batchOf(size: number, side: number, seed: number): BatchArrays {
  const labels = Uint8Array.from({ length: size }, (_, i) => (i * 2 + seed) % config.numClasses);
  const targets = new Float32Array(size * config.numClasses);
  labels.forEach((label, b) => {
    targets[b * config.numClasses + label] = 1;
  });
  return {
    x: randomArray(size * side * side * config.channels, seed),
    targets,
    labels,
    size,
    side,
    channels: config.channels,
    numClasses: config.numClasses,
  };
}

function tfjsModel(rezero: boolean): StepModel & { weights: Map<string, tf.Variable> } {
  const weights = initWeights(config, config.depth, 7);
  if (rezero) weights.set("blocks.1.rezero", tf.variable(tf.scalar(0.6)));
  return {
    config,
    weights,
    optimizer: new AdamW({ ...adamw, decayed: isDecayed }),
    emas: EMA_DECAYS.map((decay, i) => new EmaCopy(`ema${i}`, decay, weights)),
  };
}

function scaledError(actual: Float32Array, expected: Float32Array): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  return worst / Math.max(scale, 1e-30);
}

async function values(map: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, tensor] of map) out.set(name, (await tensor.data()) as Float32Array);
  return out;
}

interface Case {
  readonly name: string;
  readonly side: number;
  readonly activeBlocks: boolean[];
  readonly dropPath: number;
  readonly clip: number | null;
  readonly rezero: boolean;
}

const cases: Case[] = [
  {
    name: "full model, clipping",
    side: 8,
    activeBlocks: [true, true, true],
    dropPath: 0,
    clip: 0.5,
    rezero: false,
  },
  {
    name: "supernet sub-network at a smaller side, drop-path, ReZero",
    side: 4,
    activeBlocks: [true, true, false],
    dropPath: 0.4,
    clip: null,
    rezero: true,
  },
];

describe("the compiled training step against the tfjs step", () => {
  it.for(cases)("$name: loss, gradients, moments, weights and EMAs", async (c, context) => {
    if (!device) return context.skip(skip);
    const batchSize = 3;
    const lr = 1e-3;
    const reference = tfjsModel(c.rezero);
    const shapes = [...reference.weights].map(([name, t]) => [name, t.shape] as const);
    const compiled = new CompiledModel(device, config, shapes, {
      emas: EMA_DECAYS.length,
      adamw,
      decayed: isDecayed,
    });
    try {
      const start = await values(reference.weights);
      compiled.write("params", start);
      for (let e = 0; e < EMA_DECAYS.length; e++) compiled.write({ ema: e }, start);
      const batch = batchOf(batchSize, c.side, 3);
      const plan = compiled.plan({
        activeBlocks: c.activeBlocks,
        side: c.side,
        batch: batchSize,
        dropPath: c.dropPath > 0,
        clip: c.clip !== null,
        labelSmoothing: 0.1,
      });
      const dropPath = () => ({ rate: c.dropPath, random: createRandom(11) });
      const result = await compiled.step(
        plan,
        {
          x: batch.x,
          targets: batch.targets,
          labels: batch.labels,
          keep: c.dropPath > 0 ? keepMasks(batchSize, c.activeBlocks, dropPath()) : null,
        },
        { lr, optimizerStep: 1, maxNorm: c.clip, emaDecays: EMA_DECAYS },
      );
      const options = {
        side: c.side,
        activeBlocks: c.activeBlocks,
        labelSmoothing: 0.1,
        dropPath: c.dropPath > 0 ? dropPath() : null,
      };
      const gradient = batchGradients(config, reference.weights, batch, options);
      const flatGrad = gradient.layout.unflatten(gradient.flat);
      const expectedGrads = await values(flatGrad);
      tf.dispose([...flatGrad.values()]);
      applyGradients(reference, gradient, { lr, gradClipNorm: c.clip });
      const expected = await readLossAndCorrect(gradient);
      expect(result.loss).toBeCloseTo(expected.loss, 5);
      expect(result.correct).toBe(expected.correct);

      const grads = await compiled.readGradients();
      const active = (name: string) => {
        const match = /^blocks\.(\d+)\./.exec(name);
        return !match || c.activeBlocks[Number(match[1])] === true;
      };
      for (const [name, value] of expectedGrads) {
        if (!active(name)) continue;
        expect(scaledError(grads.get(name) as Float32Array, value), `d${name}`).toBeLessThan(1e-4);
      }
      const moments = reference.optimizer.moments();
      for (const [buffer, map] of [
        ["firstMoment", moments.first],
        ["secondMoment", moments.second],
      ] as const) {
        const actual = await compiled.read(buffer);
        for (const [name, value] of await values(map)) {
          expect(scaledError(actual.get(name) as Float32Array, value), `${buffer} ${name}`).toBeLessThan(
            1e-4,
          );
        }
      }
      tf.dispose([...moments.first.values(), ...moments.second.values()]);
      const sets: [string, Map<string, Float32Array>, Map<string, Float32Array>][] = [
        ["params", await compiled.read("params"), await values(reference.weights)],
      ];
      for (let e = 0; e < EMA_DECAYS.length; e++) {
        sets.push([
          `ema${e}`,
          await compiled.read({ ema: e }),
          await values((reference.emas[e] as EmaCopy).weights),
        ]);
      }
      for (const [what, actual, wanted] of sets) {
        let flipped = 0;
        let total = 0;
        for (const [name, value] of wanted) {
          const got = actual.get(name) as Float32Array;
          if (!active(name)) {
            if (what === "params") expect(got, `${name} is inactive`).toEqual(value);
            continue;
          }
          value.forEach((v, i) => {
            total += 1;
            if (Math.abs((got[i] as number) - v) > 2e-6) flipped += 1;
            expect(Math.abs((got[i] as number) - v), `${what} ${name}[${i}]`).toBeLessThan(2e-6 + 2 * lr);
          });
        }
        expect(flipped / total, `${what}: elements off by more than 2e-6`).toBeLessThan(0.005);
      }
    } finally {
      compiled.dispose();
      for (const w of reference.weights.values()) w.dispose();
      reference.optimizer.dispose();
      for (const ema of reference.emas) ema.dispose();
    }
    expect(compiled.buffers.liveCount).toBe(0);
  });

  it("moves weights in and out bit for bit, and counts its buffers across steps and plans", async (context) => {
    if (!device) return context.skip(skip);
    const reference = tfjsModel(false);
    const shapes = [...reference.weights].map(([name, t]) => [name, t.shape] as const);
    const compiled = new CompiledModel(device, config, shapes, { emas: 1, adamw, decayed: isDecayed });
    try {
      const start = await values(reference.weights);
      compiled.write("params", start);
      expect(await compiled.read("params")).toEqual(start);
      const base = compiled.buffers.liveCount;
      const batch = batchOf(2, 8, 5);
      const small = batchOf(2, 4, 6);
      const request = { side: 8, batch: 2, dropPath: false, clip: false, labelSmoothing: 0 };
      const full = compiled.plan({ ...request, activeBlocks: [true, true, true] });
      const sub = compiled.plan({ ...request, side: 4, activeBlocks: [true, false, true] });
      expect(compiled.plan({ ...request, activeBlocks: [true, true, true] })).toBe(full);
      const scalars = { lr: 1e-3, maxNorm: null, emaDecays: [0.9] };
      const counts: number[] = [];
      for (let step = 1; step <= 4; step++) {
        const [plan, input] = step % 2 ? [full, batch] : [sub, small];
        const result = await compiled.step(plan, input, { ...scalars, optimizerStep: step });
        expect(Number.isFinite(result.loss)).toBe(true);
        counts.push(compiled.buffers.liveCount);
      }
      expect(new Set(counts).size).toBe(1);
      compiled.dropPlans();
      expect(compiled.buffers.liveCount).toBe(base);
    } finally {
      compiled.dispose();
      for (const w of reference.weights.values()) w.dispose();
      for (const ema of reference.emas) ema.dispose();
    }
    expect(compiled.buffers.liveCount).toBe(0);
    expect(compiled.buffers.created).toBe(compiled.buffers.destroyed);
  });

  it.for([
    { variant: "micro", side: 32, patch: 4, channels: 1, batch: 2, budget: 400 },
    { variant: "tiny", side: 224, patch: 16, channels: 3, batch: 1, budget: 600 },
  ] as const)("a $variant@$side step stays within $budget dispatches", async (c, context) => {
    if (!device) return context.skip(skip);
    const shape: ViTConfig = {
      ...VARIANTS[c.variant],
      imageSize: c.side,
      patchSize: c.patch,
      channels: c.channels,
      numClasses: 10,
    };
    const shapes = paramSpecs(shape, shape.depth).map((spec) => [spec.name, spec.shape] as const);
    const compiled = new CompiledModel(device, shape, shapes, { emas: 2, adamw, decayed: isDecayed });
    try {
      const plan = compiled.plan({
        activeBlocks: Array.from({ length: shape.depth }, () => true),
        side: c.side,
        batch: c.batch,
        dropPath: true,
        clip: true,
        labelSmoothing: 0.1,
      });
      expect(await plan.validation).toBeNull();
      expect(plan.dispatches.length).toBeLessThanOrEqual(c.budget);
    } finally {
      compiled.dispose();
    }
    expect(compiled.buffers.liveCount).toBe(0);
  });
});
