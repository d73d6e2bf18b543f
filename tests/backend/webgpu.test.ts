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
import { withNoVulkanDriver } from "../support/webgpu-adapter.ts";

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

  it.runIf(process.platform === "linux")(
    "skips the real Dawn path with a reason when the Vulkan loader finds no driver",
    async () => {
      Reflect.deleteProperty(globalThis, "navigator");
      await withNoVulkanDriver(() =>
        expect(initBackend({ preference: "webgpu" })).rejects.toThrow(
          /webgpu: no adapter \(Dawn (found no Vulkan loader|found no usable Vulkan device with VK_DRIVER_FILES=\/nonexistent)/,
        ),
      );
      // Nothing was exposed for tfjs-backend-webgpu to register against.
      expect((globalThis as { navigator?: unknown }).navigator).toBeUndefined();
    },
  );
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

  // What Dawn 0.6.2 reports for Mesa 25's lavapipe (docs: webgpu-engine.md).
  const LAVAPIPE: AdapterInfoLike = {
    vendor: "mesa",
    architecture: "software",
    device: "llvmpipe-llvm-15-0-6-256-bits-",
    description: "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1",
    isFallbackAdapter: true,
  };
  it.each<[string, AdapterLike, AdapterInfoLike]>([
    ["lavapipe as Dawn reports it", {}, LAVAPIPE],
    ["lavapipe without the flag (architecture software)", {}, { ...LAVAPIPE, isFallbackAdapter: undefined }],
    ["info.isFallbackAdapter", {}, { ...H200, isFallbackAdapter: true }],
    ["adapter.isFallbackAdapter (older spec)", { isFallbackAdapter: true }, H200],
    ["architecture cpu", {}, { ...H200, architecture: "cpu" }],
    ["adapterType CPU (Dawn-native)", {}, { ...H200, adapterType: "CPU" }],
    ["adapterType software", {}, { ...H200, adapterType: "software" }],
    ["mesa llvmpipe by device name", {}, { vendor: "mesa", device: "llvmpipe (LLVM 15.0.6, 256 bits)" }],
    ["mesa lavapipe by description", {}, { vendor: "mesa", description: "lavapipe 25.0.7" }],
    ["SwiftShader", {}, SWIFTSHADER],
  ])("flags a software adapter as a fallback, never a GPU: %s", (_, adapter, info) => {
    const report = describeAdapter(adapter, info);
    expect(report.isFallback).toBe(true);
    expect(webgpuBackendInfo(report, "Vulkan", "webgpu (Dawn)")).toMatchObject({ gpu: false });
  });

  it.each<[string, AdapterInfoLike]>([
    ["NVIDIA H200", H200],
    ["AMD RDNA", { vendor: "amd", architecture: "rdna-3", device: "AMD Radeon RX 7900 XTX" }],
    ["Mesa radv on a real GPU", { vendor: "mesa", architecture: "", device: "AMD Radeon (RADV NAVI31)" }],
    [
      "integrated",
      { vendor: "intel", architecture: "xe-lpg", device: "Intel(R) Graphics", adapterType: "integrated GPU" },
    ],
  ])("reports a hardware adapter as a GPU: %s", (_, info) => {
    expect(describeAdapter({}, info).isFallback).toBe(false);
  });

  it("reads requestAdapterInfo() on Dawn builds without adapter.info, and tolerates empty fields", async () => {
    const gpu: GpuLike = { requestAdapter: async () => ({ requestAdapterInfo: async () => H200 }) };
    expect((await requestGpuAdapter(gpu))?.device).toBe("NVIDIA H200");
    const bare = describeAdapter({}, {});
    expect(bare).toEqual({ vendor: "", architecture: "", device: "", description: "", isFallback: false });
    expect(webgpuBackendInfo(bare, "WebGPU", "navigator.gpu").device).toBe("unknown adapter (WebGPU)");
  });
});
