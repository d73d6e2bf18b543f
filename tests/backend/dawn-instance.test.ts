import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../../src/kit/sleep.ts";
import { compileErrors, nullBackendDevice } from "./compiled/harness.ts";

/**
 * dawn.node frees an instance once its `GPU` object is collected, even while a device of it
 * lives: the process then aborts in Dawn's scheduled event processing (the vitest fork crash that
 * failed full test runs). The test helpers keep every instance they create (keepDawnInstance in
 * tests/support/webgpu-adapter.ts); here the garbage collector runs while a device made by one of
 * them is alive, which aborted this process before they did.
 */
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

let device: GPUDevice | null = null;
beforeAll(async () => {
  // Nothing of the helper's instance is left here but the device.
  device = (await nullBackendDevice()).device;
});
afterAll(() => device?.destroy());

describe("a Dawn device made by the test helpers", () => {
  it("outlives garbage collections while Dawn still processes its events", async () => {
    for (let i = 0; i < 50; i++) {
      collectGarbage();
      await sleep(5);
    }
    const kernel = {
      label: "copy",
      code: "@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(1) fn main() { x[0] = x[0] + 1.0; }",
      bindings: [{ name: "x", access: "read_write" as const }],
      grid: [1, 1, 1] as [number, number, number],
    };
    expect(await compileErrors(device as GPUDevice, kernel)).toEqual([]);
  });
});
