import { afterEach, describe, expect, it } from "vitest";
import { describeWebGpu, probeWebGpu, withNoVulkanDriver } from "../support/webgpu-adapter.ts";

// The shared helper for real-adapter tests (tests/support/webgpu-adapter.ts), on this machine's
// adapter: lavapipe in CI.
const DOUBLE_PLUS_ONE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> values: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&values)) { values[id.x] = values[id.x] * 2.0 + 1.0; }
}`;

/** Runs the shader over `input` on `device` and reads the result back; every buffer destroyed. */
async function doublePlusOne(device: GPUDevice, input: Float32Array): Promise<number[]> {
  const storage = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const readback = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    device.queue.writeBuffer(storage, 0, input);
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code: DOUBLE_PLUS_ONE }), entryPoint: "main" },
    });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: storage } }],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(input.length / 64));
    pass.end();
    encoder.copyBufferToBuffer(storage, 0, readback, 0, input.byteLength);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const result = Array.from(new Float32Array(readback.getMappedRange().slice(0)));
    readback.unmap();
    return result;
  } finally {
    storage.destroy();
    readback.destroy();
  }
}

describeWebGpu("WebGPU devices from the test helper (Dawn)", (gpu) => {
  it("describes the adapter and gives independent devices that compute", async () => {
    expect(gpu.info.vendor.length + gpu.info.device.length).toBeGreaterThan(0);
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    // An adapter gives one device; the helper asks for a new adapter each time.
    const [first, second] = await Promise.all([gpu.requestDevice(), gpu.requestDevice()]);
    const input = Float32Array.from({ length: 100 }, (_, i) => i - 50);
    const expected = Array.from(input, (x) => x * 2 + 1);
    expect(await doublePlusOne(first, input)).toEqual(expected);
    expect(await doublePlusOne(second, input)).toEqual(expected);
    first.destroy();
    expect((await first.lost).reason).toBe("destroyed");
  });

  it("gives a device the features the adapter offers when asked", async () => {
    const wanted = (["shader-f16", "timestamp-query"] as const).filter((f) => gpu.features.has(f));
    const device = await gpu.requestDevice({ requiredFeatures: wanted });
    for (const feature of wanted) expect(device.features.has(feature)).toBe(true);
  });
});

describe.runIf(process.platform === "linux")("without a WebGPU adapter", () => {
  const savedCi = process.env.CI;
  afterEach(() => {
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  });

  it("skips with the reason and the install command locally, and fails when CI is set", async () => {
    await withNoVulkanDriver(async () => {
      delete process.env.CI;
      expect(await probeWebGpu()).toEqual({
        skip: expect.stringMatching(
          /^Dawn found no .+; bash \.ci\/install-lavapipe\.sh installs Mesa 25's lavapipe/,
        ),
      });
      process.env.CI = "true";
      await expect(probeWebGpu()).rejects.toThrow(/^the WebGPU tests need an adapter: Dawn found no /);
    });
  });
});
