/**
 * The compiled WebGPU step's side of bench:engine: one case's dispatches per step, host time per
 * step (upload; encode + submit, measured on the CPU without waiting for the GPU), GPU time of the
 * step's compute pass (timestamp queries) and images/s with one step in flight.
 */
import {
  type ComputeDevice,
  type ComputePrecision,
  describeMatmulFamily,
  requestComputeDevice,
} from "../src/backend/compiled/device.ts";
import { type MatmulFamily, matmul } from "../src/backend/compiled/kernels/matmul.ts";
import { CompiledModel, LOSS_SCALE_DEFAULTS } from "../src/backend/compiled/model.ts";
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
  readonly precision: ComputePrecision;
  /** The matmul kernel family that ran. */
  readonly matmuls: string;
  readonly deviceFeatures: readonly string[];
  /** Mixed: steps the loss scaling skipped (a benchmark's synthetic batch should skip none). */
  readonly skippedSteps: number | null;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** One device per precision (mixed asks for more features), kept for the whole bench. */
const devices = new Map<ComputePrecision, ComputeDevice>();

async function computeDevice(precision: ComputePrecision): Promise<ComputeDevice> {
  const known = devices.get(precision);
  if (known) return known;
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new Error("no navigator.gpu: start the webgpu backend first");
  const found = await requestComputeDevice(gpu, precision);
  if (!found) throw new Error("no WebGPU adapter for the compiled step");
  devices.set(precision, found);
  return found;
}

export async function runCompiledCase(
  config: ViTConfig,
  batch: number,
  input: { x: Float32Array; targets: Float32Array; labels: Uint8Array },
  options: { steps: number; emas: number; caseSeconds: number; precision: ComputePrecision },
): Promise<CompiledCaseResult> {
  const compute = await computeDevice(options.precision);
  const gpu = compute.device;
  const mixed = compute.matmuls.kind !== "fp32";
  const weights = initWeights(config, config.depth, 0);
  const model = new CompiledModel(
    gpu,
    config,
    [...weights].map(([name, w]) => [name, w.shape] as const),
    {
      emas: options.emas,
      adamw: { ...ADAMW_DEFAULTS, weightDecay: 0.05 },
      decayed: isDecayed,
      matmuls: compute.matmuls,
      lossScaling: mixed ? { growthInterval: LOSS_SCALE_DEFAULTS.growthInterval } : null,
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
    const scale = await model.readLossScale();
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
      precision: mixed ? "mixed" : "fp32",
      matmuls: describeMatmulFamily(compute.matmuls),
      deviceFeatures: compute.features,
      skippedSteps: scale?.skippedSteps ?? null,
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

/** DeiT-Tiny@224 b256's matmul shapes (rows = 256 · 197 tokens): qkv, proj, fc1, fc2. */
export const DEIT_TINY_MATMULS = [
  { name: "qkv", rows: 50432, cols: 576, depth: 192 },
  { name: "proj", rows: 50432, cols: 192, depth: 192 },
  { name: "fc1", rows: 50432, cols: 768, depth: 192 },
  { name: "fc2", rows: 50432, cols: 192, depth: 768 },
] as const;

/**
 * TFLOP/s of one forward matmul kernel per family at the given shapes: `repeats` dispatches in one
 * timed compute pass (timestamp queries), after one untimed warm-up pass. Inputs uniform in
 * [−1, 1); null where the device has no timestamp queries.
 */
export async function matmulThroughput(
  precision: ComputePrecision,
  shapes: readonly { name: string; rows: number; cols: number; depth: number }[],
  repeats = 20,
): Promise<{ family: string; shape: string; tflops: number | null; msPerMatmul: number | null }[]> {
  const { device, matmuls } = await computeDevice(precision);
  const family: MatmulFamily = matmuls;
  const rows: { family: string; shape: string; tflops: number | null; msPerMatmul: number | null }[] = [];
  for (const shape of shapes) {
    const kernel = matmul(
      `bench.${shape.name}`,
      { rows: shape.rows, cols: shape.cols, depth: shape.depth, a: "rowMajor", b: "rowMajor" },
      { kind: "store", bias: false },
      family,
    );
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const floats = {
      a: shape.rows * shape.depth,
      b: shape.depth * shape.cols,
      out: shape.rows * shape.cols,
      overflow: 4,
    };
    const buffers = new Map<string, GPUBuffer>();
    for (const [name, count] of Object.entries(floats)) {
      const buffer = device.createBuffer({ size: Math.max(16, count * 4), usage });
      if (name === "a" || name === "b") {
        device.queue.writeBuffer(
          buffer,
          0,
          Float32Array.from({ length: count }, (_, i) => ((i * 7919) % 2001) / 1000 - 1),
        );
      }
      buffers.set(name, buffer);
    }
    const dims = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(dims, 0, Uint32Array.from(kernel.constants ?? []));
    const timed = device.features.has("timestamp-query");
    const querySet = timed ? device.createQuerySet({ type: "timestamp", count: 2 }) : null;
    const resolve = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    try {
      const module = device.createShaderModule({ label: kernel.label, code: kernel.code });
      const pipeline = await device.createComputePipelineAsync({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: kernel.bindings.map((binding, index) => ({
          binding: index,
          resource: {
            buffer: binding.access === "uniform" ? dims : (buffers.get(binding.name) as GPUBuffer),
          },
        })),
      });
      const pass = (withTimer: boolean) => {
        const encoder = device.createCommandEncoder();
        const compute = encoder.beginComputePass(
          withTimer && querySet
            ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
            : {},
        );
        compute.setPipeline(pipeline);
        compute.setBindGroup(0, bindGroup);
        for (let i = 0; i < repeats; i++) compute.dispatchWorkgroups(...kernel.grid);
        compute.end();
        if (withTimer && querySet) {
          encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
          encoder.copyBufferToBuffer(resolve, 0, read, 0, 16);
        }
        device.queue.submit([encoder.finish()]);
      };
      pass(false);
      pass(true);
      let ms: number | null = null;
      if (querySet) {
        await read.mapAsync(GPUMapMode.READ);
        const [begin, end] = new BigInt64Array(read.getMappedRange().slice(0, 16));
        read.unmap();
        ms = Number((end as bigint) - (begin as bigint)) / 1e6 / repeats;
      } else await device.queue.onSubmittedWorkDone();
      const flops = 2 * shape.rows * shape.cols * shape.depth;
      rows.push({
        family: describeMatmulFamily(family),
        shape: `${shape.name} ${shape.rows}×${shape.depth}·${shape.depth}×${shape.cols}`,
        tflops: ms === null ? null : +(flops / (ms * 1e9)).toPrecision(3),
        msPerMatmul: ms === null ? null : +ms.toFixed(3),
      });
    } finally {
      for (const buffer of [...buffers.values(), dims, resolve, read]) buffer.destroy();
      querySet?.destroy();
    }
  }
  return rows;
}
