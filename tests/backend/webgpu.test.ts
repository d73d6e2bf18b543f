import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AdapterInfoLike,
  type AdapterLike,
  describeAdapter,
  type GpuLike,
  initBackend,
  requestGpuAdapter,
  skippedBackends,
  webgpuBackendInfo,
} from "../../src/backend/select.ts";

// Tests run in order in one module: the first needs no backend chosen yet (auto keeps a chosen one).
const savedNavigator = Object.getOwnPropertyDescriptor(globalThis, "navigator");
function stubNavigatorGpu(gpu: GpuLike): void {
  Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
}
afterEach(() => {
  if (savedNavigator) Object.defineProperty(globalThis, "navigator", savedNavigator);
  else Reflect.deleteProperty(globalThis, "navigator");
});

const noAdapter: GpuLike = { requestAdapter: async () => null };
const adapterWith = (info: AdapterInfoLike, extra: Partial<AdapterLike> = {}): GpuLike => ({
  requestAdapter: async () => ({ info, ...extra }),
});
const H200: AdapterInfoLike = {
  vendor: "nvidia",
  architecture: "hopper",
  device: "NVIDIA H200",
  description: "NVIDIA: 580.95.05",
};
const SWIFTSHADER: AdapterInfoLike = {
  vendor: "google",
  architecture: "",
  device: "SwiftShader Device (Subzero)",
  description: "SwiftShader driver",
};

describe("webgpu backend selection", () => {
  it("auto skips webgpu without an adapter, falls through to wasm and records why", async () => {
    stubNavigatorGpu(noAdapter);
    const info = await initBackend({ preference: "auto" });
    expect(info.name).toBe("wasm");
    expect(info.adapter).toBeUndefined();
    expect(skippedBackends()).toEqual([
      "tensorflow: not installed",
      "webgpu: no adapter (navigator.gpu.requestAdapter() returned null)",
    ]);
  });

  it("rejects an explicit webgpu choice without an adapter, with the reason", async () => {
    stubNavigatorGpu(noAdapter);
    await expect(initBackend({ preference: "webgpu" })).rejects.toThrow(/webgpu: no adapter \(/);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("never meets requireGpu with a fallback or software adapter, and names both GPU routes", async () => {
    stubNavigatorGpu(adapterWith({ ...H200, isFallbackAdapter: true }));
    await expect(initBackend({ preference: "webgpu", requireGpu: true })).rejects.toThrow(
      /webgpu: .*not a GPU/,
    );
    stubNavigatorGpu(adapterWith(SWIFTSHADER));
    await expect(initBackend({ preference: "webgpu", requireGpu: true })).rejects.toThrow(
      /fallback\) is not a GPU\); for a GPU, install @tensorflow\/tfjs-node-gpu with CUDA, or .*webgpu.*Vulkan/,
    );
    expect(skippedBackends()).toEqual([
      "webgpu: SwiftShader Device (Subzero) (WebGPU, fallback) is not a GPU",
    ]);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("skips the real Dawn path with a reason on a machine without a Vulkan GPU", async () => {
    Reflect.deleteProperty(globalThis, "navigator");
    await expect(initBackend({ preference: "webgpu" })).rejects.toThrow(/webgpu: no adapter \(Dawn .+\)/);
    // Nothing was exposed for tfjs-backend-webgpu to register against.
    expect((globalThis as { navigator?: unknown }).navigator).toBeUndefined();
  });
});

describe("adapter report", () => {
  it("reports a hardware adapter as a GPU with vendor, device and driver", async () => {
    const report = await requestGpuAdapter(adapterWith(H200));
    expect(report).toEqual({ ...H200, driver: "580.95.05", isFallback: false });
    const info = webgpuBackendInfo(report as NonNullable<typeof report>, "Vulkan", "webgpu (Dawn)");
    expect(info).toMatchObject({ name: "webgpu", gpu: true, threads: 1 });
    expect(info.device).toBe("NVIDIA H200 (Vulkan, driver 580.95.05)");
    expect(info.adapter?.vendor).toBe("nvidia");
  });

  it("flags fallback adapters (new and old spec) and software rasterisers as not a GPU", () => {
    const fallback = (adapter: AdapterLike, info: AdapterInfoLike) =>
      describeAdapter(adapter, info).isFallback;
    expect(fallback({}, { ...H200, isFallbackAdapter: true })).toBe(true);
    expect(fallback({ isFallbackAdapter: true }, H200)).toBe(true);
    expect(fallback({}, SWIFTSHADER)).toBe(true);
    expect(fallback({}, { vendor: "mesa", device: "llvmpipe (LLVM 15.0.6, 256 bits)" })).toBe(true);
    expect(fallback({}, { ...H200, adapterType: "CPU" })).toBe(true);
    expect(fallback({}, H200)).toBe(false);
    const report = describeAdapter({}, SWIFTSHADER);
    expect(webgpuBackendInfo(report, "Vulkan", "webgpu (Dawn)").gpu).toBe(false);
  });

  it("reads requestAdapterInfo() on Dawn builds without adapter.info, and tolerates empty fields", async () => {
    const gpu: GpuLike = { requestAdapter: async () => ({ requestAdapterInfo: async () => H200 }) };
    expect((await requestGpuAdapter(gpu))?.device).toBe("NVIDIA H200");
    const bare = describeAdapter({}, {});
    expect(bare).toEqual({ vendor: "", architecture: "", device: "", description: "", isFallback: false });
    expect(webgpuBackendInfo(bare, "WebGPU", "navigator.gpu").device).toBe("unknown adapter (WebGPU)");
  });
});
