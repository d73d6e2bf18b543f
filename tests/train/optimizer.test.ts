import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/backend/select.ts";
import { createRandom, randomNormal } from "../../src/core/random.ts";
import { copyToVariable, disposeWeights, initWeights, isDecayed } from "../../src/model/params.ts";
import { ADAMW_DEFAULTS, AdamW } from "../../src/train/adamw.ts";
import { EmaCopy } from "../../src/train/ema.ts";
import { FlatLayout } from "../../src/train/flat.ts";
import { applyGradients } from "../../src/train/step.ts";
import { TINY_CONFIG, values } from "../helpers.ts";
import { ReferenceAdamW, referenceClip, referenceEmaUpdate } from "../support/reference-optimizer.ts";

afterAll(() => initBackend({ preference: "wasm" }));

const STEPS = 20;
const options = { ...ADAMW_DEFAULTS, weightDecay: 0.05, decayed: isDecayed };

async function worstDifference(a: ReadonlyMap<string, tf.Tensor>, b: ReadonlyMap<string, tf.Tensor>) {
  let worst = 0;
  for (const [name, tensor] of a) {
    const other = b.get(name);
    if (!other) throw new Error(`no ${name} on the other side`);
    const [x, y] = [await values(tensor), await values(other)];
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)));
  }
  return worst;
}

describe.each(["wasm", "cpu"] as const)("flat AdamW + EMAs on %s", (backend) => {
  it(`equal the per-weight arithmetic within 1e-6 after ${STEPS} steps, with clipping and supernet masks`, async () => {
    await initBackend({ preference: backend });
    const weights = initWeights(TINY_CONFIG, TINY_CONFIG.depth, 3);
    const referenceWeights = new Map([...weights].map(([name, w]) => [name, copyToVariable(w)]));
    const layout = FlatLayout.of(weights);
    const optimizer = new AdamW(options);
    const reference = new ReferenceAdamW(options);
    const emas = [new EmaCopy("fast", 0.9, weights), new EmaCopy("slow", 0.99, weights)];
    const referenceEmas = emas.map(() => new Map([...weights].map(([name, w]) => [name, copyToVariable(w)])));
    const random = createRandom(11);
    for (let step = 0; step < STEPS; step++) {
      // Every third step trains only block 0 (and the stem/head), as a sampled supernet does.
      const updated =
        step % 3 === 2 ? layout.entries.map((e) => e.name).filter((n) => !/^blocks\.[12]\./.test(n)) : null;
      const grads: tf.NamedTensorMap = {};
      for (const entry of layout.entries) {
        if (updated && !updated.includes(entry.name)) continue;
        grads[entry.name] = tf.tensor(
          Float32Array.from({ length: entry.size }, () => randomNormal(random)),
          [...entry.shape],
        );
      }
      const lr = 1e-2 * (1 + step / STEPS);
      const flat = layout.flatten(new Map(Object.entries(grads)));
      applyGradients(
        { config: TINY_CONFIG, weights, optimizer, emas },
        { layout, flat, updated },
        {
          lr,
          gradClipNorm: 5,
        },
      );
      const clipped = referenceClip(grads, 5);
      reference.apply(referenceWeights, clipped, lr);
      for (const [i, ema] of emas.entries()) {
        referenceEmaUpdate(referenceEmas[i] as Map<string, tf.Variable>, referenceWeights, ema.decay);
      }
      tf.dispose([...Object.values(grads), ...Object.values(clipped)]);
    }
    expect(await worstDifference(weights, referenceWeights)).toBeLessThan(1e-6);
    for (const [i, ema] of emas.entries()) {
      expect(await worstDifference(ema.weights, referenceEmas[i] as Map<string, tf.Tensor>)).toBeLessThan(
        1e-6,
      );
    }
    const { first, second } = optimizer.moments();
    expect(await worstDifference(reference.first, first)).toBeLessThan(1e-6);
    expect(await worstDifference(reference.second, second)).toBeLessThan(1e-6);
    // Moments of weights that never had a gradient stay zero, as the lazy per-weight ones never existed.
    expect(reference.first.size).toBe(first.size);
    expect(optimizer.step).toBe(STEPS);
    for (const t of [first, second, referenceWeights, ...referenceEmas]) disposeWeights(t);
    for (const ema of emas) ema.dispose();
    optimizer.dispose();
    reference.dispose();
    disposeWeights(weights);
  });

  it("keeps the tensor count constant from step to step", async () => {
    await initBackend({ preference: backend });
    const weights = initWeights(TINY_CONFIG, TINY_CONFIG.depth, 5);
    const layout = FlatLayout.of(weights);
    const model = {
      config: TINY_CONFIG,
      weights,
      optimizer: new AdamW(options),
      emas: [new EmaCopy("e", 0.9, weights)],
    };
    const counts: number[] = [];
    for (let step = 0; step < 5; step++) {
      applyGradients(
        model,
        { layout, flat: tf.ones([layout.size]) as tf.Tensor1D, updated: null },
        { lr: 1e-3, gradClipNorm: 1 },
      );
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    model.optimizer.dispose();
    model.emas[0]?.dispose();
    disposeWeights(weights);
  });
});
