import { computeDeviceDescriptor, SUBGROUP_MATRIX_FEATURE } from "../../../src/backend/compiled/device.ts";
import type { KernelSource } from "../../../src/backend/compiled/kernel.ts";
import { exposeGpuConstants } from "../../../src/backend/select.ts";
import { keepDawnInstance, webgpuForTests } from "../../support/webgpu-adapter.ts";

/**
 * Runs kernels on a real WebGPU device for tests: each named buffer is filled from a Float32Array
 * (or zero-filled with a length), the kernels run in order in one compute pass, and the buffers
 * listed in `read` come back. Buffers are destroyed before it returns.
 */
export async function runKernels(
  device: GPUDevice,
  kernels: readonly KernelSource[],
  buffers: Readonly<Record<string, Float32Array | Uint32Array | number>>,
  read: readonly string[],
): Promise<Record<string, Float32Array>> {
  const created = new Map<string, GPUBuffer>();
  const usage =
    GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | GPUBufferUsage.UNIFORM;
  for (const [name, init] of Object.entries(buffers)) {
    const floats = typeof init === "number" ? init : init.length;
    const buffer = device.createBuffer({
      label: name,
      size: Math.max(16, Math.ceil((floats * 4) / 16) * 16),
      usage,
    });
    if (typeof init !== "number") device.queue.writeBuffer(buffer, 0, init);
    created.set(name, buffer);
  }
  const staging: GPUBuffer[] = [];
  try {
    device.pushErrorScope("validation");
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const kernel of kernels) {
      const module = device.createShaderModule({ label: kernel.label, code: kernel.code });
      const pipeline = device.createComputePipeline({
        label: kernel.label,
        layout: "auto",
        compute: { module, entryPoint: kernel.entryPoint ?? "main" },
      });
      const dims = kernel.constants ? uniformOf(device, kernel.constants) : null;
      if (dims) staging.push(dims);
      const entries = kernel.bindings.map((binding, index) => {
        const buffer = binding.access === "uniform" && dims ? dims : created.get(binding.name);
        if (!buffer) throw new Error(`${kernel.label}: no buffer named ${binding.name}`);
        return { binding: index, resource: { buffer } };
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(...kernel.grid);
    }
    pass.end();
    const out: Record<string, GPUBuffer> = {};
    for (const name of read) {
      const source = created.get(name);
      if (!source) throw new Error(`no buffer named ${name}`);
      const copy = device.createBuffer({
        size: source.size,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      });
      staging.push(copy);
      encoder.copyBufferToBuffer(source, 0, copy, 0, source.size);
      out[name] = copy;
    }
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new Error(`WebGPU validation: ${error.message}`);
    const result: Record<string, Float32Array> = {};
    for (const [name, copy] of Object.entries(out)) {
      await copy.mapAsync(GPUMapMode.READ);
      const init = buffers[name];
      const floats = typeof init === "number" ? init : (init?.length ?? 0);
      result[name] = new Float32Array(copy.getMappedRange().slice(0, floats * 4));
      copy.unmap();
    }
    return result;
  } finally {
    for (const buffer of [...created.values(), ...staging]) buffer.destroy();
  }
}

/** A kernel's `dims` uniform (KernelSource.constants as u32). */
function uniformOf(device: GPUDevice, values: readonly number[]): GPUBuffer {
  const buffer = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, Uint32Array.from(values));
  return buffer;
}

/**
 * A device for the compiled step's kernels on this machine's adapter (lavapipe in CI), from the
 * one WebGPU test helper: without an adapter the reason to skip, and under CI a failure.
 */
export async function dawnDevice(): Promise<{ device: GPUDevice } | { skip: string }> {
  const gpu = await webgpuForTests();
  if ("skip" in gpu) return gpu;
  return {
    device: await gpu.requestDevice(computeDeviceDescriptor({ features: gpu.features, limits: gpu.limits })),
  };
}

/**
 * A device of Dawn's null backend with the experimental subgroup-matrix feature (instance toggle
 * allow_unsafe_apis): it validates and compiles WGSL but computes nothing, so shaders no software
 * adapter can run still fail a test when they do not compile. Throws when the `webgpu` package
 * offers no such adapter or feature (the test must not pass silently).
 */
export async function nullBackendDevice(): Promise<{ device: GPUDevice; subgroupMaxSize: number }> {
  const dawn = await import("webgpu");
  exposeGpuConstants(dawn.globals);
  const gpu = keepDawnInstance(dawn.create(["backend=null", "enable-dawn-features=allow_unsafe_apis"]));
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("Dawn's null backend gave no adapter");
  const wanted = ["shader-f16", "subgroups", SUBGROUP_MATRIX_FEATURE];
  const missing = wanted.filter((feature) => !adapter.features.has(feature));
  if (missing.length) throw new Error(`Dawn's null adapter lacks ${missing.join(", ")}`);
  const device = await adapter.requestDevice({
    ...computeDeviceDescriptor(adapter),
    requiredFeatures: wanted as GPUFeatureName[],
  });
  const info = adapter.info as GPUAdapterInfo & { subgroupMaxSize?: number };
  return { device, subgroupMaxSize: info.subgroupMaxSize ?? 128 };
}

/**
 * Compiles a kernel into a pipeline; resolves with every compiler error and validation error.
 * A kernel binding more storage buffers than the device allows is compiled as a module only (the
 * null adapter allows 8; GPUs allow more, and the residual epilogue with all its parts binds 9).
 */
export async function compileErrors(device: GPUDevice, kernel: KernelSource): Promise<string[]> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label: kernel.label, code: kernel.code });
  const messages = (await module.getCompilationInfo()).messages
    .filter((m) => m.type === "error")
    .map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  const storage = kernel.bindings.filter((binding) => binding.access !== "uniform").length;
  if (storage <= device.limits.maxStorageBuffersPerShaderStage) {
    device.createComputePipeline({
      label: kernel.label,
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
  }
  const error = await device.popErrorScope();
  return error ? [...messages, error.message] : messages;
}
