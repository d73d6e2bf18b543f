import { FP32_MATMULS, type MatmulFamily } from "./kernels/matmul.ts";

/** Dawn's experimental feature for subgroup matrices (tensor cores on NVIDIA); the instance needs allow_unsafe_apis. */
export const SUBGROUP_MATRIX_FEATURE = "chromium-experimental-subgroup-matrix";

/** What a compiled step trains in: fp32 throughout, or f16 matmul inputs with f32 everything else. */
export type ComputePrecision = "fp32" | "mixed";

/** One entry of Dawn's `adapter.info.subgroupMatrixConfigs`. */
export interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** What the choice reads of an adapter (GPUAdapter, or a test's stand-in). */
export interface ComputeAdapter {
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  readonly info?: {
    readonly subgroupMaxSize?: number;
    readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  };
}

/** The device of a compiled step and the matmul kernels its plans use. */
export interface ComputeDevice {
  readonly device: GPUDevice;
  readonly matmuls: MatmulFamily;
  /** The features the device was requested with (the backend report lists them). */
  readonly features: readonly string[];
}

/**
 * The device a compiled step runs on: the adapter's own limits (the step binds up to a dozen
 * storage buffers per kernel and large activations; WebGPU's defaults allow 8 and 128 MiB),
 * timestamp queries where offered (the bench times the GPU's work) and, for mixed precision, the
 * features its matmul family needs.
 */
export async function requestComputeDevice(
  gpu: GPU,
  precision: ComputePrecision = "fp32",
): Promise<ComputeDevice | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const descriptor = computeDeviceDescriptor(adapter as unknown as ComputeAdapter, precision);
  const device = await adapter.requestDevice(descriptor);
  return {
    device,
    matmuls: matmulFamilyFor(adapter as unknown as ComputeAdapter, precision),
    features: [...(descriptor.requiredFeatures ?? [])].map(String),
  };
}

/**
 * The matmul kernels a plan uses, chosen once by what the adapter offers: subgroup matrices where
 * it lists an f16 → f32 configuration (16×16×16 preferred), else f16 register-tiled kernels
 * where it has shader-f16, else fp32. fp32 precision always gets fp32 kernels.
 */
export function matmulFamilyFor(adapter: ComputeAdapter, precision: ComputePrecision): MatmulFamily {
  if (precision === "fp32" || !adapter.features.has("shader-f16")) return FP32_MATMULS;
  const configs = (adapter.info?.subgroupMatrixConfigs ?? []).filter(
    (c) => c.componentType === "f16" && c.resultComponentType === "f32",
  );
  const config = configs.find((c) => c.M === 16 && c.N === 16 && c.K === 16) ?? configs[0];
  if (config && adapter.features.has(SUBGROUP_MATRIX_FEATURE) && adapter.features.has("subgroups")) {
    return {
      kind: "subgroupMatrix",
      m: config.M,
      n: config.N,
      k: config.K,
      subgroupSize: adapter.info?.subgroupMaxSize ?? 32,
    };
  }
  return { kind: "f16" };
}

/** The family's name in reports: "subgroup-matrix 16×16×16 f16→f32", "f16 register-tiled", "fp32". */
export function describeMatmulFamily(family: MatmulFamily): string {
  switch (family.kind) {
    case "fp32":
      return "fp32";
    case "f16":
      return "f16 register-tiled (f32 accumulation)";
    case "subgroupMatrix":
      return `subgroup-matrix ${family.m}×${family.n}×${family.k} f16→f32`;
  }
}

/** What a compiled step asks of an adapter: its own limits, and the features above where offered. */
export function computeDeviceDescriptor(
  adapter: ComputeAdapter,
  precision: ComputePrecision = "fp32",
): GPUDeviceDescriptor {
  // "subgroups" is missing from @webgpu/types' GPUFeatureName list; Dawn accepts it.
  const wanted = ["timestamp-query", "shader-f16", "subgroups"];
  if (matmulFamilyFor(adapter, precision).kind === "subgroupMatrix") wanted.push(SUBGROUP_MATRIX_FEATURE);
  const { limits } = adapter;
  return {
    requiredFeatures: wanted.filter((feature) => adapter.features.has(feature)) as GPUFeatureName[],
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  };
}
