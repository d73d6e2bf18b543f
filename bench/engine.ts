/**
 * Engine throughput (not a test): one training step (forward, backward, AdamW, EMAs) per
 * backend and shape — images/s, effective GFLOP/s (3 × analytic forward FLOPs per image ×
 * images/s), kernels per step (`tf.profile` around one step after warm-up) and the summed
 * kernel time the backend reports (GPU timestamp queries on webgpu; wall time per kernel on CPUs).
 *
 *   npm run bench:engine -- [--engine tfjs,compiled] [--backends tensorflow,webgpu,wasm,cpu] [--variants micro,tiny] [--side 32,64]
 *     [--patch 4] [--channels 1] [--batch 64,256] [--steps 5] [--emas 2] [--workers 1]
 *     [--cases micro:32:4:1:1024,tiny:224:16:3:256] [--case-seconds 120] [--json] [--profile]
 *
 * Variants: the ViT's (micro, tiny, small) and VOLO's as volo-micro, volo-d1 (their patch is
 * the token grid's; the stem patch is half of it), and resnet-micro (its patch is the total
 * stride, 4). The compiled engine is ViT-only.
 * --cases (variant:side:patch:channels:batch, as torch_reference.py) replaces the
 * variants × sides × batches grid. DeiT-Tiny: --variants tiny --side 224 --patch 16 --channels 3 --batch 256.
 * --json prints one object per case and line on stdout (human lines go to stderr then).
 * --workers N > 1 runs data-parallel steps on N threads (one core each; not on webgpu).
 * --adapter-report prints the webgpu adapter's features and subgroupMatrixConfigs first.
 * --precision fp32,mixed (compiled engine): mixed runs f16 matmul inputs (subgroup-matrix kernels where
 * the adapter lists an f16→f32 configuration, else f16 register-tiled) with loss scaling; the
 * tfjs engine trains fp32 only and skips mixed. --matmul-bench times one forward matmul kernel per
 * precision at DeiT-Tiny@224 b256's shapes (TFLOP/s, timestamp queries) before the cases.
 * --engine compiled runs the compiled WebGPU step (src/backend/compiled; webgpu backend only) and
 * reports its dispatches per step, host ms per step (encode + submit, without waiting for the
 * GPU; the batch upload apart), GPU ms of the step's pass (timestamp queries) and images/s.
 */
import { Console } from "node:console";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import type { ComputePrecision } from "../src/backend/compiled/device.ts";
import {
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  initBackend,
  skippedBackends,
} from "../src/backend/select.ts";
import { forwardFlops } from "../src/core/flops.ts";
import { createRandom } from "../src/core/random.ts";
import {
  RESNET_VARIANTS,
  VARIANTS,
  type VariantName,
  type ViTConfig,
  VOLO_VARIANTS,
  type VoloVariantName,
} from "../src/model/config.ts";
import { fullMask } from "../src/model/vit.ts";
import { GradientPool } from "../src/train/parallel/pool.ts";
import { parallelTrainStep } from "../src/train/parallel/step.ts";
import { createModelState, disposeModelState } from "../src/train/state.ts";
import { trainStep } from "../src/train/step.ts";
import { adapterReport, DEIT_TINY_MATMULS, matmulThroughput, runCompiledCase } from "./engine-compiled.ts";

const { values } = parseArgs({
  options: {
    // cpu on request only: a tiny step takes ~50 s there on a 2-core machine.
    engine: { type: "string", default: "tfjs" },
    backends: { type: "string", default: BACKEND_NAMES.filter((name) => name !== "cpu").join(",") },
    variants: { type: "string", default: "micro,tiny" },
    cases: { type: "string" },
    side: { type: "string", default: "32" },
    patch: { type: "string" },
    channels: { type: "string", default: "1" },
    batch: { type: "string" },
    steps: { type: "string", default: "5" },
    emas: { type: "string", default: "2" },
    workers: { type: "string", default: "1" },
    "case-seconds": { type: "string", default: "120" },
    json: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "adapter-report": { type: "boolean", default: false },
    precision: { type: "string", default: "fp32" },
    "matmul-bench": { type: "boolean", default: false },
    /** Rows of the --matmul-bench shapes (DeiT-Tiny b256: 256 · 197); fewer to rehearse on a software adapter. */
    "matmul-rows": { type: "string", default: "50432" },
  },
});
const steps = Math.max(1, Number(values.steps));
const emaCount = Number(values.emas);
const workers = Number(values.workers);
const caseSeconds = Number(values["case-seconds"]);
// With --json, stdout carries only JSON lines.
const log = values.json ? new Console(process.stderr) : console;
// Batch sizes that fit the 4 GiB wasm heap (tiny at 64 aborts it; tfjs-notes.md).
const DEFAULT_BATCH: Record<BenchVariant, number> = {
  micro: 64,
  tiny: 16,
  small: 8,
  "volo-micro": 64,
  "volo-d1": 8,
  "resnet-micro": 64,
};

type BenchVariant = VariantName | `volo-${VoloVariantName}` | "resnet-micro";
const VOLO_PREFIX = "volo-";
const voloName = (variant: BenchVariant): VoloVariantName | null =>
  variant.startsWith(VOLO_PREFIX) ? (variant.slice(VOLO_PREFIX.length) as VoloVariantName) : null;
const variantShape = (variant: BenchVariant) => {
  if (variant === "resnet-micro") return RESNET_VARIANTS.micro;
  const volo = voloName(variant);
  return volo ? VOLO_VARIANTS[volo] : VARIANTS[variant as VariantName];
};

interface Case {
  variant: BenchVariant;
  side: number;
  patch: number;
  channels: number;
  /** null: the variant's default for the backend. */
  batch: number | null;
}

const list = (text: string | undefined): string[] => (text ?? "").split(",").filter(Boolean);
function variantOf(name: string): BenchVariant {
  if (!(name in DEFAULT_BATCH))
    throw new Error(`unknown variant ${name} (${Object.keys(DEFAULT_BATCH).join(", ")})`);
  return name as BenchVariant;
}

function parseCases(): Case[] {
  if (values.cases) {
    return list(values.cases).map((text) => {
      const [variant = "", side, patch, channels, batch] = text.split(":");
      const numbers = [side, patch, channels, batch].map(Number);
      if (numbers.some((n) => !Number.isInteger(n) || n < 1))
        throw new Error(`--cases entry ${text} is not variant:side:patch:channels:batch`);
      const [s, p, c, b] = numbers as [number, number, number, number];
      return { variant: variantOf(variant), side: s, patch: p, channels: c, batch: b };
    });
  }
  const batches = values.batch ? list(values.batch).map(Number) : [null];
  return list(values.variants).flatMap((name) => {
    const variant = variantOf(name);
    const patch = values.patch ? Number(values.patch) : variantShape(variant).patchSize;
    return list(values.side).flatMap((side) =>
      batches.map((batch) => ({
        variant,
        side: Number(side),
        patch,
        channels: Number(values.channels),
        batch,
      })),
    );
  });
}

interface Row {
  engine: string;
  precision: ComputePrecision;
  backend: string;
  variant: string;
  side: number;
  patch: number;
  channels: number;
  batch: number;
  msPerStep: number;
  imagesPerSecond: number;
  gflops: number;
  kernelsPerStep: number;
  /** Images/s with one step in flight while the next is dispatched (null when not measured). */
  pipelinedImagesPerSecond: number | null;
  kernelMs: number | null;
  /** Compiled engine: encode + submit of one step on the CPU, and its batch upload. */
  hostMs?: number | null;
  uploadMs?: number | null;
}

interface Profiled {
  kernels: number;
  /** Σ kernelTimeMs of registered kernels where the backend gave numbers, else null. */
  kernelMs: number | null;
  byName: Map<string, { count: number; ms: number }>;
}

async function profileStep(step: () => Promise<unknown>): Promise<Profiled> {
  // Reading every kernel's output back to check for NaN would add transfers to the profiled step.
  const check = tf.env().getBool("CHECK_COMPUTATION_FOR_ERRORS");
  tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", false);
  try {
    const info = await tf.profile(async () => {
      await step();
    });
    const backend = tf.getBackend();
    const byName = new Map<string, { count: number; ms: number }>();
    let total = 0;
    let timed = false;
    for (const kernel of info.kernels) {
      // kernelTimeMs may be a promise (webgpu timestamp queries) or {error} where unsupported.
      const ms = await kernel.kernelTimeMs;
      const entry = byName.get(kernel.name) ?? { count: 0, ms: 0 };
      entry.count += 1;
      if (typeof ms === "number") {
        entry.ms += ms;
        // A custom-gradient op (named after its scope, no registered kernel) times the kernels
        // inside it, which are profiled on their own too: leave it out of the sum.
        if (tf.getKernel(kernel.name, backend) !== undefined) total += ms;
        timed = true;
      }
      byName.set(kernel.name, entry);
    }
    return { kernels: info.kernels.length, kernelMs: timed ? total : null, byName };
  } finally {
    tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", check);
  }
}

function top(byName: Profiled["byName"], key: "count" | "ms", n: number) {
  return [...byName.entries()]
    .sort((a, b) => b[1][key] - a[1][key])
    .slice(0, n)
    .map(([name, { count, ms }]) => ({ kernel: name, count, ms: +ms.toFixed(2) }));
}

async function runCase(info: BackendInfo, c: Case): Promise<Row> {
  const backend = info.name;
  const config = caseConfig(c);
  const batch =
    c.batch ?? (backend === "cpu" ? Math.min(8, DEFAULT_BATCH[c.variant]) : DEFAULT_BATCH[c.variant]);
  const flops = forwardFlops(config, config.depth, c.side); // validates side vs patch before any tensor
  const state = createModelState(config, config.depth, c.side, {
    seed: 0,
    ema: Array.from({ length: emaCount }, (_, i) => ({ name: `ema${i}`, horizon: 0.02 * 5 ** i })),
    stageSteps: 1000,
    weightDecay: 0.05,
  });
  let pool: GradientPool | null = null;
  try {
    const { x, targets, labels } = syntheticBatch(batch, c);
    const input = { x, targets, labels, size: batch, side: c.side, channels: c.channels, numClasses: 10 };
    const options = {
      side: c.side,
      activeBlocks: fullMask(config.depth),
      lr: 1e-4,
      labelSmoothing: 0.1,
      gradClipNorm: null,
      dropPath: null,
    };
    if (workers > 1) {
      if (backend === "webgpu") throw new Error("--workers > 1 runs CPU threads; not with webgpu");
      pool = await GradientPool.start(workers - 1, config, backend);
    }
    const threads = pool;
    const step = () =>
      threads ? parallelTrainStep(state, threads, input, options) : trainStep(state, input, options);
    await step(); // warm-up: pipelines/kernels, XNNPACK packing, optimizer state
    const runs = backend === "cpu" && c.variant !== "micro" ? 1 : steps;
    const times: number[] = [];
    const deadline = performance.now() + caseSeconds * 1000;
    for (let i = 0; i < runs && (i === 0 || performance.now() < deadline); i++) {
      const start = performance.now();
      await step();
      times.push(performance.now() - start);
    }
    // Pipelined: step i+1 is dispatched before step i's loss is awaited, so host dispatch overlaps
    // the accelerator's work (what the trainer's epoch loop does); on wasm/cpu it changes nothing.
    let pipelinedMs: number | null = null;
    if (!threads && times.length > 1) {
      const start = performance.now();
      let previous = step();
      for (let i = 1; i < times.length; i++) {
        const next = step();
        await previous;
        previous = next;
      }
      await previous;
      pipelinedMs = (performance.now() - start) / times.length;
    }
    const profiled = await profileStep(step);
    const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
    const imagesPerSecond = (batch * 1000) / ms;
    const gflops = (3 * flops * imagesPerSecond) / 1e9;
    const row: Row = {
      engine: "tfjs",
      precision: "fp32",
      backend: workers > 1 ? `${backend}×${workers}` : backend,
      variant: c.variant,
      side: c.side,
      patch: c.patch,
      channels: c.channels,
      batch,
      msPerStep: +ms.toFixed(1),
      imagesPerSecond: +imagesPerSecond.toFixed(1),
      gflops: +gflops.toFixed(2),
      kernelsPerStep: profiled.kernels,
      pipelinedImagesPerSecond: pipelinedMs === null ? null : +((batch * 1000) / pipelinedMs).toFixed(1),
      kernelMs: profiled.kernelMs === null ? null : +profiled.kernelMs.toFixed(1),
    };
    report(info, row, profiled, times.length);
    return row;
  } finally {
    await pool?.close();
    disposeModelState(state);
  }
}

function caseConfig(c: Case): ViTConfig {
  if (c.variant === "resnet-micro")
    return {
      ...RESNET_VARIANTS.micro,
      family: "resnet",
      imageSize: c.side,
      channels: c.channels,
      numClasses: 10,
    };
  const volo = voloName(c.variant);
  if (volo) {
    const variant = VOLO_VARIANTS[volo];
    return {
      ...variant,
      family: "volo",
      volo: { ...variant.volo, stemPatch: c.patch / 2 },
      imageSize: c.side,
      patchSize: c.patch,
      channels: c.channels,
      numClasses: 10,
    };
  }
  return {
    ...VARIANTS[c.variant as VariantName],
    imageSize: c.side,
    patchSize: c.patch,
    channels: c.channels,
    numClasses: 10,
  };
}

function syntheticBatch(batch: number, c: Case) {
  const random = createRandom(1);
  const x = Float32Array.from({ length: batch * c.side * c.side * c.channels }, () => random() * 2 - 1);
  const targets = new Float32Array(batch * 10);
  const labels = Uint8Array.from({ length: batch }, (_, i) => i % 10);
  labels.forEach((label, i) => {
    targets[i * 10 + label] = 1;
  });
  return { x, targets, labels };
}

async function runCompiled(info: BackendInfo, c: Case & { precision: ComputePrecision }): Promise<Row> {
  if (info.name !== "webgpu") throw new Error("the compiled engine runs on the webgpu backend only");
  if (voloName(c.variant) || c.variant === "resnet-micro")
    throw new Error("the compiled engine encodes the ViT only; VOLO and ResNet run on tfjs");
  const config = caseConfig(c);
  const batch = c.batch ?? DEFAULT_BATCH[c.variant];
  const flops = forwardFlops(config, config.depth, c.side);
  const result = await runCompiledCase(config, batch, syntheticBatch(batch, c), {
    steps,
    emas: emaCount,
    caseSeconds,
    precision: c.precision,
  });
  const row: Row = {
    engine: "compiled",
    precision: result.precision,
    backend: info.name,
    variant: c.variant,
    side: c.side,
    patch: c.patch,
    channels: c.channels,
    batch,
    msPerStep: +result.msPerStep.toFixed(1),
    imagesPerSecond: +result.imagesPerSecond.toFixed(1),
    gflops: +((3 * flops * result.imagesPerSecond) / 1e9).toFixed(2),
    kernelsPerStep: result.dispatchesPerStep,
    pipelinedImagesPerSecond: +result.imagesPerSecond.toFixed(1),
    kernelMs: result.gpuMs === null ? null : +result.gpuMs.toFixed(1),
    hostMs: +result.hostMs.toFixed(3),
    uploadMs: +result.uploadMs.toFixed(3),
  };
  if (values.json) {
    console.log(
      JSON.stringify({
        ...row,
        ...result,
        emas: emaCount,
        device: info.device,
        adapter: info.adapter ?? null,
      }),
    );
  }
  log.log(
    `compiled ${result.precision} (${result.matmuls}) ${row.variant} ${row.side}px/p${row.patch}/c${row.channels} batch ${batch}: ` +
      `${result.dispatchesPerStep} dispatches/step (${result.pipelines} pipelines, built in ${result.buildMs.toFixed(0)} ms), ` +
      `host ${result.hostMs.toFixed(3)} ms/step (encode ${result.encodeMs.toFixed(3)}, upload ${result.uploadMs.toFixed(3)}), ` +
      `GPU ${result.gpuMs === null ? "n/a" : `${result.gpuMs.toFixed(1)} ms`}, ${row.msPerStep} ms/step, ${row.imagesPerSecond} img/s`,
  );
  return row;
}

function report(info: BackendInfo, row: Row, profiled: Profiled, timedSteps: number): void {
  const onGpu = info.name === "webgpu" || info.gpu;
  if (values.json) {
    const { kernelMs, ...rest } = row;
    const kernelsByName = Object.fromEntries(
      top(profiled.byName, "count", 20).map((k) => [k.kernel, k.count]),
    );
    const times = kernelMs === null ? {} : onGpu ? { kernelMs, gpuKernelMs: kernelMs } : { kernelMs };
    const line = { ...rest, ...times, timedSteps, emas: emaCount, workers, device: info.device };
    console.log(JSON.stringify({ ...line, adapter: info.adapter ?? null, kernelsByName }));
  }
  const kernelTime = row.kernelMs === null ? "" : `, ${onGpu ? "GPU " : ""}kernels ${row.kernelMs} ms`;
  log.log(
    `${row.backend} ${row.variant} ${row.side}px/p${row.patch}/c${row.channels} batch ${row.batch}: ` +
      `${row.msPerStep} ms/step, ${row.imagesPerSecond} img/s, ${row.gflops} GFLOP/s, ` +
      `${row.kernelsPerStep} kernels/step${kernelTime}`,
  );
  if (values.profile) {
    log.log("top kernels by count:");
    log.table(top(profiled.byName, "count", 15));
    if (row.kernelMs !== null) {
      log.log("top kernels by time:");
      log.table(top(profiled.byName, "ms", 15));
    }
  }
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

const cases = parseCases();
const engines = list(values.engine);
for (const engine of engines) {
  if (engine !== "tfjs" && engine !== "compiled") throw new Error(`--engine ${engine}: tfjs or compiled`);
}
const precisions = list(values.precision) as ComputePrecision[];
for (const precision of precisions) {
  if (precision !== "fp32" && precision !== "mixed")
    throw new Error(`--precision ${precision}: fp32 or mixed`);
}
const rows: Row[] = [];
for (const backend of list(values.backends) as BackendName[]) {
  let info: BackendInfo;
  try {
    info = await initBackend({ preference: backend });
  } catch (error) {
    // "webgpu: no adapter (…)" rather than the whole "no usable tfjs backend (…)".
    const reason = skippedBackends().join("; ") || message(error);
    log.log(`skipped ${reason}`);
    if (values.json) console.log(JSON.stringify({ backend, error: reason }));
    continue;
  }
  log.log(`${backend}: ${info.device}${info.adapter ? ` ${JSON.stringify(info.adapter)}` : ""}`);
  if (values["adapter-report"] && backend === "webgpu") {
    const adapter = await adapterReport();
    log.log(`adapter report: ${JSON.stringify(adapter)}`);
    if (values.json) console.log(JSON.stringify({ adapterReport: adapter }));
  }
  if (values["matmul-bench"] && backend === "webgpu") {
    for (const precision of precisions) {
      try {
        const rowCount = Number(values["matmul-rows"]);
        const shapes = DEIT_TINY_MATMULS.map((shape) => ({ ...shape, rows: rowCount }));
        const timings = await matmulThroughput(precision, shapes, rowCount < 50432 ? 2 : 20);
        log.table(timings);
        if (values.json)
          for (const t of timings) console.log(JSON.stringify({ matmulBench: { precision, ...t } }));
      } catch (error) {
        log.log(`matmul bench ${precision}: failed (${message(error)})`);
        if (values.json) console.log(JSON.stringify({ matmulBench: { precision, error: message(error) } }));
      }
    }
  }
  const runs = cases.flatMap((one) =>
    engines.flatMap((engine) =>
      // The tfjs engine trains fp32 only: it runs once, whatever --precision lists.
      engine === "tfjs"
        ? [{ ...one, engine, precision: "fp32" as const }]
        : precisions.map((precision) => ({ ...one, engine, precision })),
    ),
  );
  for (const c of runs) {
    try {
      rows.push(await (c.engine === "compiled" ? runCompiled(info, c) : runCase(info, c)));
    } catch (error) {
      // One failed case (OOM, a wasm abort, a bad shape) must not end the run.
      const shape = `${c.engine} ${c.variant} ${c.side}px/p${c.patch}/c${c.channels} batch ${c.batch ?? "default"}`;
      log.log(`${backend} ${shape}: failed (${message(error)})`);
      if (values.json) console.log(JSON.stringify({ backend, ...c, error: message(error) }));
    }
  }
}
log.table(rows);
log.log(`tensors alive at the end: ${tf.memory().numTensors}`);
// A live Dawn device can keep the event loop running, and gpu-check.sh runs PyTorch after this.
process.exit(rows.length > 0 ? 0 : 1);
