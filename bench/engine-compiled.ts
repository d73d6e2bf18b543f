/**
 * The compiled WebGPU step's side of bench:engine: one case's dispatches per step, host time per
 * step (upload; encode + submit, measured on the CPU without waiting for the GPU), GPU time of the
 * step's compute pass (timestamp queries) and images/s with one step in flight.
 */
import { requestComputeDevice } from "../src/backend/compiled/device.ts";
import { CompiledModel } from "../src/backend/compiled/model.ts";
import type { ViTConfig } from "../src/model/config.ts";
import { initWeights, isDecayed } from "../src/model/params.ts";
import { fullMask } from "../src/model/vit.ts";
import { ADAMW_DEFAULTS } from "../src/train/adamw.ts";

export interface CompiledCaseResult {
  readonly dispatchesPerStep: number;
  readonly pipelines: number;
  readonly buildMs: number;
  /** Encode + submit of one step, median. */
  readonly hostMs: number;
  /** Encoding the dispatch list alone, median. */
  readonly encodeMs: number;
  readonly uploadMs: number;
  readonly gpuMs: number | null;
  readonly msPerStep: number;
  readonly imagesPerSecond: number;
  readonly timedSteps: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

let device: GPUDevice | null = null;

async function computeDevice(): Promise<GPUDevice> {
  if (device) return device;
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new Error("no navigator.gpu: start the webgpu backend first");
  device = (await requestComputeDevice(gpu))?.device ?? null;
  if (!device) throw new Error("no WebGPU adapter for the compiled step");
  return device;
}

export async function runCompiledCase(
  config: ViTConfig,
  batch: number,
  input: { x: Float32Array; targets: Float32Array; labels: Uint8Array },
  options: { steps: number; emas: number; caseSeconds: number },
): Promise<CompiledCaseResult> {
  const gpu = await computeDevice();
  const weights = initWeights(config, config.depth, 0);
  const model = new CompiledModel(
    gpu,
    config,
    [...weights].map(([name, w]) => [name, w.shape] as const),
    {
      emas: options.emas,
      adamw: { ...ADAMW_DEFAULTS, weightDecay: 0.05 },
      decayed: isDecayed,
    },
  );
  try {
    const values = new Map([...weights].map(([name, w]) => [name, w.dataSync() as Float32Array]));
    for (const w of weights.values()) w.dispose();
    model.write("params", values);
    for (let e = 0; e < options.emas; e++) model.write({ ema: e }, values);
    const built = performance.now();
    const plan = model.plan({
      activeBlocks: fullMask(config.depth),
      side: config.imageSize,
      batch,
      dropPath: false,
      clip: false,
      labelSmoothing: 0.1,
    });
    const invalid = await plan.validation;
    if (invalid) throw new Error(`invalid plan: ${invalid.message}`);
    const buildMs = performance.now() - built;
    const emaDecays = Array.from({ length: options.emas }, (_, e) => 1 - 0.1 ** (e + 1));
    let optimizerStep = 0;
    const step = (timed = false) =>
      model.step(
        plan,
        input,
        { lr: 1e-4, optimizerStep: ++optimizerStep, maxNorm: null, emaDecays },
        { timed },
      );
    await step(); // warm-up: first submit of every pipeline
    // Host time: encoding the fixed list again and again (nothing submitted), then full steps.
    const encodeTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      model.encodeOnly(plan);
      encodeTimes.push(performance.now() - start);
    }
    const hostTimes: number[] = [];
    const uploadTimes: number[] = [];
    const wallTimes: number[] = [];
    let gpuMs: number | null = null;
    const deadline = performance.now() + options.caseSeconds * 1000;
    for (let i = 0; i < options.steps && (i === 0 || performance.now() < deadline); i++) {
      const start = performance.now();
      const result = step(i === 0);
      hostTimes.push(model.lastHostTimes.encodeSubmitMs);
      uploadTimes.push(model.lastHostTimes.uploadMs);
      const done = await result;
      wallTimes.push(performance.now() - start);
      if (done.gpuMs !== null) gpuMs = done.gpuMs;
    }
    // Pipelined: step i+1 is submitted before step i's loss is read (the trainer's loop).
    const pipelinedStart = performance.now();
    let previous = step();
    for (let i = 1; i < wallTimes.length; i++) {
      const next = step();
      await previous;
      previous = next;
    }
    await previous;
    const msPerStep =
      wallTimes.length > 1 ? (performance.now() - pipelinedStart) / wallTimes.length : median(wallTimes);
    return {
      dispatchesPerStep: plan.dispatches.length,
      pipelines: new Set(plan.dispatches.map((d) => d.pipeline)).size,
      buildMs,
      hostMs: median(hostTimes),
      encodeMs: median(encodeTimes),
      uploadMs: median(uploadTimes),
      gpuMs,
      msPerStep,
      imagesPerSecond: (batch * 1000) / msPerStep,
      timedSteps: wallTimes.length,
    };
  } finally {
    model.dispose();
  }
}

/**
 * The adapter's features, limits that bound the compiled step, and its subgroup-matrix shapes
 * (listed only when the Dawn instance was created with enable-dawn-features=allow_unsafe_apis,
 * e.g. AUTOPROG_DAWN_FLAGS): what the tensor-core kernels can build on.
 */
export async function adapterReport(): Promise<Record<string, unknown>> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const adapter = await gpu?.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return { adapter: null };
  // subgroupMatrixConfigs is Dawn's (experimental) addition to GPUAdapterInfo.
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: unknown };
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    features: [...adapter.features].sort(),
    subgroupMatrixConfigs: info.subgroupMatrixConfigs ?? null,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
  };
}
