import { afterEach, describe, expect, it } from "vitest";
import { type GpuLike, initBackend, skippedBackends } from "../../src/backend/select.ts";

// Its own file: the module chooses once per process, and this needs nothing chosen yet.
afterEach(() => {
  Reflect.deleteProperty(globalThis, "navigator");
});

describe("a GPU demand under auto", () => {
  it("tries only GPU-capable backends and passes over a software adapter with the reason", async () => {
    const swiftshader: GpuLike = {
      requestAdapter: async () => ({
        info: { vendor: "google", device: "SwiftShader Device (Subzero)", description: "SwiftShader driver" },
      }),
    };
    Object.defineProperty(globalThis, "navigator", { value: { gpu: swiftshader }, configurable: true });
    const failure = initBackend({ preference: "auto", requireGpu: true });
    await expect(failure).rejects.toThrow(/^no usable tfjs backend \(tensorflow: not installed; webgpu: /);
    await expect(failure).rejects.toThrow(
      /for a GPU, install @tensorflow\/tfjs-node-gpu with CUDA, or .*Vulkan/,
    );
    expect(skippedBackends()).toEqual([
      "tensorflow: not installed",
      "webgpu: SwiftShader Device (Subzero) (WebGPU, fallback) is not a GPU",
    ]);
  });
});
