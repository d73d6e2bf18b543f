import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import { BackendSetupError, initBackend, preferenceFromEnv } from "../../src/backend/select.ts";

const saved = process.env.AUTOPROG_BACKEND;
afterEach(() => {
  if (saved === undefined) delete process.env.AUTOPROG_BACKEND;
  else process.env.AUTOPROG_BACKEND = saved;
});

describe("backend selection", () => {
  it("picks wasm on a machine without libtensorflow and reports threads and device", async () => {
    const info = await initBackend({ preference: "auto" });
    // tfjs-node cannot be installed here, so auto falls through to wasm.
    expect(info.name).toBe("wasm");
    expect(info.threads).toBe(1);
    expect(info.gpu).toBe(false);
    expect(info.device.length).toBeGreaterThan(0);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("honours an explicit choice and AUTOPROG_BACKEND under auto", async () => {
    expect((await initBackend({ preference: "cpu" })).name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    process.env.AUTOPROG_BACKEND = "wasm";
    expect((await initBackend({ preference: "auto" })).name).toBe("wasm");
    expect(preferenceFromEnv({ AUTOPROG_BACKEND: "cpu" })).toBe("cpu");
    expect(() => preferenceFromEnv({ AUTOPROG_BACKEND: "tpu" })).toThrow(BackendSetupError);
  });

  it("says clearly that the native backend is not installed when asked for it", async () => {
    await expect(initBackend({ preference: "tensorflow" })).rejects.toThrow(/tensorflow: not installed/);
  });

  it("refuses CPU training when a GPU is required", async () => {
    await expect(initBackend({ preference: "wasm", requireGpu: true })).rejects.toThrow(
      /requires a GPU.*tfjs-node-gpu with CUDA, or .*webgpu.*Vulkan/,
    );
  });
});
