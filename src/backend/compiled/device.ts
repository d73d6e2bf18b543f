/**
 * The device a compiled step runs on: the adapter's own limits (the step binds up to a dozen
 * storage buffers per kernel and large activations; WebGPU's defaults allow 8 and 128 MiB) and
 * timestamp queries where offered, so the bench can time the GPU's work.
 */
export async function requestComputeDevice(gpu: GPU): Promise<GPUDevice | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  return adapter ? adapter.requestDevice(computeDeviceDescriptor(adapter)) : null;
}

/** What a compiled step asks of an adapter: its own limits, and the features above where offered. */
export function computeDeviceDescriptor(adapter: {
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
}): GPUDeviceDescriptor {
  // "subgroups" is missing from @webgpu/types' GPUFeatureName list; Dawn accepts it.
  const wanted = ["timestamp-query", "shader-f16", "subgroups"] as GPUFeatureName[];
  const { limits } = adapter;
  return {
    requiredFeatures: wanted.filter((feature) => adapter.features.has(feature)),
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  };
}
