import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { initBackend, skippedBackends } from "../../src/backend/select.ts";
import { describeWebGpu } from "../support/webgpu-adapter.ts";

// Its own file: the backend is chosen once per process, and `auto` must find nothing chosen yet.
// In CI the adapter is Mesa's lavapipe, a software one; on a machine with a GPU it is hardware.
describeWebGpu("backend selection on this machine's WebGPU adapter (Dawn)", (gpu) => {
  const software = gpu.info.isFallback;

  it.runIf(software)("auto passes over the software adapter with the reason and trains on wasm", async () => {
    const info = await initBackend({ preference: "auto" });
    expect(info.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    const [native, webgpu, ...rest] = skippedBackends();
    expect([native, rest]).toEqual(["tensorflow: not installed", []]);
    expect(webgpu).toContain(`webgpu: ${gpu.info.device} (`);
    expect(webgpu).toMatch(
      / \(Vulkan, .*fallback\) is a software adapter \(ask for backend webgpu to train on it\)$/,
    );
    // Passed over before tfjs-backend-webgpu was given Dawn.
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
  });

  it.runIf(!software)("auto trains on the hardware adapter", async () => {
    const info = await initBackend({ preference: "auto" });
    expect(info).toMatchObject({ name: "webgpu", gpu: true, adapter: gpu.info });
  });

  // The first case loads the backend, the second finds it chosen: either way an explicit choice.
  it.each([
    ["AUTOPROG_BACKEND=webgpu under a spec's auto", "auto", "webgpu"],
    ["--backend webgpu", "webgpu", undefined],
  ] as const)("%s trains on the adapter and reports whether it is a fallback", async (_, preference, env) => {
    const saved = process.env.AUTOPROG_BACKEND;
    if (env) process.env.AUTOPROG_BACKEND = env;
    const info = await initBackend({ preference }).finally(() => {
      if (saved === undefined) delete process.env.AUTOPROG_BACKEND;
      else process.env.AUTOPROG_BACKEND = saved;
    });
    expect(info).toMatchObject({ name: "webgpu", gpu: !software, adapter: gpu.info });
    expect(info.device.includes("fallback")).toBe(software);
    expect(tf.getBackend()).toBe("webgpu");
    const before = tf.memory().numTensors;
    const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])));
    expect(Array.from(await sum.data())).toEqual([4, 6]);
    tf.dispose(sum);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.runIf(software)("a GPU demand still refuses the software adapter", async () => {
    await expect(initBackend({ preference: "webgpu", requireGpu: true })).rejects.toThrow(
      /requires a GPU but the backend is webgpu on .*fallback\)/,
    );
  });
});
