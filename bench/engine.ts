/**
 * Engine throughput (not a test): images/s of one training step (forward, backward, AdamW,
 * EMA) for the `micro` and `tiny` variants on every backend that loads here, and the
 * effective GFLOP/s (3 × analytic forward FLOPs per image × images/s).
 *
 *   npm run bench:engine -- [--backends wasm,cpu] [--variants micro,tiny] [--steps 5] [--side 32] [--workers 1]
 *
 * --workers N > 1 runs data-parallel steps on N threads (one core each).
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, type BackendName, initBackend } from "../src/backend/select.ts";
import { forwardFlops } from "../src/core/flops.ts";
import { createRandom } from "../src/core/random.ts";
import { VARIANTS, type VariantName, type ViTConfig } from "../src/model/config.ts";
import { fullMask } from "../src/model/vit.ts";
import { GradientPool } from "../src/train/parallel/pool.ts";
import { parallelTrainStep } from "../src/train/parallel/step.ts";
import { createModelState, disposeModelState } from "../src/train/state.ts";
import { trainStep } from "../src/train/step.ts";

const { values } = parseArgs({
  options: {
    backends: { type: "string", default: BACKEND_NAMES.join(",") },
    variants: { type: "string", default: "micro,tiny" },
    steps: { type: "string", default: "5" },
    side: { type: "string", default: "32" },
    workers: { type: "string", default: "1" },
  },
});
const steps = Number(values.steps);
const side = Number(values.side);
const workers = Number(values.workers);
// Batch sizes that fit the 4 GiB wasm heap (tiny at 64 aborts it; tfjs-notes.md).
const BATCH: Record<VariantName, number> = { micro: 64, tiny: 16, small: 8 };

interface Row {
  backend: string;
  variant: string;
  batch: number;
  msPerStep: number;
  imagesPerSecond: number;
  gflops: number;
}
const rows: Row[] = [];

for (const backend of (values.backends ?? "").split(",") as BackendName[]) {
  try {
    await initBackend({ preference: backend });
  } catch (error) {
    console.log(`${backend}: not available (${error instanceof Error ? error.message : String(error)})`);
    continue;
  }
  for (const variant of (values.variants ?? "").split(",") as VariantName[]) {
    const config: ViTConfig = { ...VARIANTS[variant], imageSize: side, channels: 1, numClasses: 10 };
    const batch = backend === "cpu" ? Math.min(8, BATCH[variant]) : BATCH[variant];
    const state = createModelState(config, config.depth, side, {
      seed: 0,
      ema: [{ name: "fast", horizon: 0.02 }],
      stageSteps: 1000,
      weightDecay: 0.05,
    });
    const random = createRandom(1);
    const x = Float32Array.from({ length: batch * side * side }, () => random() * 2 - 1);
    const targets = new Float32Array(batch * 10);
    const labels = Uint8Array.from({ length: batch }, (_, i) => i % 10);
    labels.forEach((label, i) => {
      targets[i * 10 + label] = 1;
    });
    const input = { x, targets, labels, size: batch, side, channels: 1, numClasses: 10 };
    const options = {
      side,
      activeBlocks: fullMask(config.depth),
      lr: 1e-4,
      labelSmoothing: 0.1,
      gradClipNorm: null,
      dropPath: null,
    };
    const runs = backend === "cpu" && variant !== "micro" ? 1 : steps;
    const pool = workers > 1 ? await GradientPool.start(workers - 1, config, backend) : null;
    const step = () =>
      pool ? parallelTrainStep(state, pool, input, options) : trainStep(state, input, options);
    await step(); // warm-up: kernels, XNNPACK packing, optimizer state
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await step();
      times.push(performance.now() - start);
    }
    await pool?.close();
    disposeModelState(state);
    const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
    const imagesPerSecond = (batch * 1000) / ms;
    const gflops = (3 * forwardFlops(config, config.depth, side) * imagesPerSecond) / 1e9;
    rows.push({
      backend: workers > 1 ? `${backend}×${workers}` : backend,
      variant,
      batch,
      msPerStep: Math.round(ms),
      imagesPerSecond: +imagesPerSecond.toFixed(1),
      gflops: +gflops.toFixed(2),
    });
    console.log(
      `${backend} ${variant} batch ${batch}: ${ms.toFixed(0)} ms/step, ${imagesPerSecond.toFixed(1)} img/s, ${gflops.toFixed(2)} GFLOP/s`,
    );
  }
}
console.table(rows);
console.log(`tensors alive at the end: ${tf.memory().numTensors}`);
