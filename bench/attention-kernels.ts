/**
 * Attention kernels' speed on this machine's WebGPU adapter (not a test): each kernel of one
 * layer's forward and backward dispatched alone, pipelines and bind groups built once, wall time
 * from submit to onSubmittedWorkDone (median of --reps after one warm-up run, which compiles).
 *
 *   npx tsx bench/attention-kernels.ts [--batch 32] [--tokens 65] [--heads 4] [--head-width 16] [--reps 5]
 *
 * Defaults: the micro variant at 32 px (4-px patches: 64 patches + the class token, 4 heads of 16).
 */
import { parseArgs } from "node:util";
import { create, globals } from "webgpu";
import { requestComputeDevice } from "../src/backend/compiled/device.ts";
import {
  type AttentionShape,
  attentionBackward,
  attentionForward,
  attentionSavedFloats,
  attentionScratchFloats,
  attentionWorkgroupBytes,
} from "../src/backend/compiled/kernels/attention.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "32" },
    tokens: { type: "string", default: "65" },
    heads: { type: "string", default: "4" },
    "head-width": { type: "string", default: "16" },
    reps: { type: "string", default: "5" },
  },
});
const shape: AttentionShape = {
  batch: Number(values.batch),
  tokens: Number(values.tokens),
  heads: Number(values.heads),
  headWidth: Number(values["head-width"]),
};
const reps = Number(values.reps);

process.env.XDG_RUNTIME_DIR ??= "/tmp";
Object.assign(globalThis, globals);
// Kept referenced for the whole run: Dawn's instance must outlive its devices.
const dawn = create([]);
const found = await requestComputeDevice(dawn);
if (!found) {
  console.log("skipped: no WebGPU adapter (bash .ci/install-lavapipe.sh installs lavapipe)");
  process.exit(0);
}
const device = found.device;

const rows = shape.batch * shape.tokens;
const width = shape.heads * shape.headWidth;
const floats: Record<string, number> = {
  qkv: rows * 3 * width,
  attn: rows * width,
  attnSaved: attentionSavedFloats(shape),
  dAttn: rows * width,
  attnScratch: Math.max(1, attentionScratchFloats(shape)),
  dQkv: rows * 3 * width,
};
const buffers = new Map(
  Object.entries(floats).map(([name, count]) => {
    const buffer = device.createBuffer({ label: name, size: count * 4, usage: GPUBufferUsage.STORAGE });
    return [name, buffer] as const;
  }),
);

/** One score-sized matrix product: B·H·N²·dh multiply-adds. */
const product = 2 * shape.batch * shape.heads * shape.tokens ** 2 * shape.headWidth;
const kernels = [...attentionForward(shape), ...attentionBackward(shape)];
/** Products each kernel computes: QKᵀ, PV; QKᵀ, dO·Vᵀ, dS·K; QKᵀ, dO·Vᵀ, Pᵀ·dO, dSᵀ·Q. */
const productsPerKernel = [2, 3, 4];
const bytes = attentionWorkgroupBytes(shape);
console.log(
  `attention ${JSON.stringify(shape)} on ${device.adapterInfo.device || device.adapterInfo.vendor}`,
);
for (const [index, kernel] of kernels.entries()) {
  const module = device.createShaderModule({ label: kernel.label, code: kernel.code });
  const pipeline = await device.createComputePipelineAsync({
    label: kernel.label,
    layout: "auto",
    compute: { module, entryPoint: kernel.entryPoint ?? "main" },
  });
  const entries = kernel.bindings.map((binding, slot) => {
    const buffer = buffers.get(binding.name);
    if (!buffer) throw new Error(`${kernel.label}: no buffer named ${binding.name}`);
    return { binding: slot, resource: { buffer } };
  });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const times: number[] = [];
  for (let rep = 0; rep <= reps; rep++) {
    const start = performance.now();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(...kernel.grid);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    if (rep > 0) times.push(performance.now() - start); // the first run includes the compile
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
  const gflops = ((productsPerKernel[index] ?? 0) * product) / (median * 1e6);
  console.log(
    `${kernel.label}: grid ${kernel.grid.join("×")}, ${bytes[index]} B workgroup memory, ` +
      `${median.toFixed(2)} ms median, ${gflops.toFixed(2)} GFLOP/s`,
  );
}
for (const buffer of buffers.values()) buffer.destroy();
process.exit(0);
