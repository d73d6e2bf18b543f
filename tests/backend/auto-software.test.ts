import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import { type GpuLike, initBackend, skippedBackends } from "../../src/backend/select.ts";

// Its own file: the backend is chosen once per process, and `auto` must find nothing chosen yet.
// The real lavapipe adapter is tested in webgpu-adapter.test.ts; this one needs no driver.
afterEach(() => {
  Reflect.deleteProperty(globalThis, "navigator");
});

describe("auto on a machine whose only WebGPU adapter is software", () => {
  it("passes over llvmpipe with the reason and trains on wasm", async () => {
    const llvmpipe: GpuLike = {
      requestAdapter: async () => ({
        info: {
          vendor: "mesa",
          architecture: "software",
          device: "llvmpipe-llvm-15-0-6-256-bits-",
          description: "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1",
          isFallbackAdapter: true,
        },
      }),
    };
    Object.defineProperty(globalThis, "navigator", { value: { gpu: llvmpipe }, configurable: true });
    const info = await initBackend({ preference: "auto" });
    expect(info.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(skippedBackends()).toEqual([
      "tensorflow: not installed",
      "webgpu: llvmpipe-llvm-15-0-6-256-bits- (WebGPU, driver 25.0.7, fallback) is a software adapter " +
        "(ask for backend webgpu to train on it)",
    ]);
  });
});
