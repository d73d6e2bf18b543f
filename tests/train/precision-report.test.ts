import { describe, expect, it } from "vitest";
import { CompiledSteps } from "../../src/train/compiled-steps.ts";
import { precisionReport } from "../../src/train/run-context.ts";

/** What the backend report says a run trains in, for every way a "mixed" spec can end up in fp32. */
describe("the backend report's precision", () => {
  const compiledWith = (kind: "f16" | "fp32") =>
    new CompiledSteps({
      device: {} as GPUDevice,
      matmuls: { kind },
      features: kind === "f16" ? ["shader-f16"] : [],
    });

  it("mixed on the compiled step with f16 kernels: used mixed, the family named", () => {
    expect(precisionReport("mixed", "webgpu", compiledWith("f16"), 1)).toEqual({
      requested: "mixed",
      used: "mixed",
      matmuls: "f16 register-tiled (f32 accumulation)",
      deviceFeatures: ["shader-f16"],
    });
  });

  it.for([
    ["wasm", null, 1, "the wasm backend has no mixed-precision step: trained in fp32"],
    [
      "webgpu",
      null,
      4,
      "data-parallel threads (AUTOPROG_WORKERS > 1) train with the tfjs step: trained in fp32",
    ],
    [
      "webgpu",
      null,
      1,
      "the compiled WebGPU step is switched off (AUTOPROG_COMPILED_STEP=0): trained in fp32",
    ],
    ["webgpu", "fp32", 1, "the adapter has no shader-f16, which f16 matmuls need: trained in fp32"],
  ] as const)(
    "mixed on %s (compiled: %s, workers %d) trains fp32 and says why",
    ([backend, compiled, workers, note]) => {
      const report = precisionReport("mixed", backend, compiled ? compiledWith(compiled) : null, workers);
      expect(report).toMatchObject({ requested: "mixed", used: "fp32", note });
    },
  );

  it("fp32 needs no note", () => {
    expect(precisionReport("fp32", "wasm", null, 1)).toEqual({
      requested: "fp32",
      used: "fp32",
      matmuls: "tfjs",
      deviceFeatures: [],
    });
  });
});
