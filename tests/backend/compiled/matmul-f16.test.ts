import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MatmulEpilogue,
  type MatmulFamily,
  type MatmulShape,
  matmul,
} from "../../../src/backend/compiled/kernels/matmul.ts";
import { dawnDevice, runKernels } from "./harness.ts";
import { expectClose, randomArray } from "./reference.ts";

/**
 * The f16 matmul family (inputs rounded to f16 in workgroup memory, f32 accumulation) against the
 * fp32 kernels, which matmul.test.ts checks against tfjs. Inputs uniform in [−1, 1): each input
 * rounds with relative error ≤ 2⁻¹¹ (one f16 ulp where the device truncates), so a product is off
 * by ≤ ~2·10⁻³ of its size and a sum of K random-sign products by ~√K·10⁻³ in the worst lanes.
 * Stated tolerance: 5·10⁻³ · max(1, |expected|) (expectClose), for K ≤ 80.
 */
const F16_TOLERANCE = 5e-3;

let device: GPUDevice | null = null;
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else if (!found.device.features.has("shader-f16")) {
    skip = "the adapter has no shader-f16";
    found.device.destroy();
  } else device = found.device;
});
afterAll(() => device?.destroy());

const F16: MatmulFamily = { kind: "f16" };
const [M, K, N] = [70, 37, 80];
const a = randomArray(M * K, 11);
const w = randomArray(K * N, 12);
const bias = randomArray(N, 13);
const dy = randomArray(M * N, 14);
const pre = randomArray(M * K, 15);

async function both(
  gpu: GPUDevice,
  shape: MatmulShape,
  epilogue: MatmulEpilogue,
  inputs: Record<string, Float32Array | number>,
  read: string[],
): Promise<{ fp32: Record<string, Float32Array>; f16: Record<string, Float32Array>; overflow: number }> {
  const fp32 = await runKernels(gpu, [matmul("fp32", shape, epilogue)], inputs, read);
  const f16 = await runKernels(
    gpu,
    [matmul("f16", shape, epilogue, F16)],
    { ...inputs, overflow: new Uint32Array(1) },
    [...read, "overflow"],
  );
  const overflow = new Uint32Array((f16.overflow as Float32Array).buffer)[0] as number;
  return { fp32, f16, overflow };
}

describe("f16 matmul kernels (f16 inputs, f32 accumulation)", () => {
  it("x·W + b with GELU matches the fp32 kernel within the f16 tolerance, and differs from it (inputs really rounded)", async (context) => {
    if (!device) return context.skip(skip);
    const shape = { rows: M, cols: N, depth: K, a: "rowMajor", b: "rowMajor" } as const;
    const { fp32, f16, overflow } = await both(
      device,
      shape,
      { kind: "gelu" },
      { a, b: w, bias, pre: M * N, out: M * N },
      ["pre", "out"],
    );
    expectClose(f16.pre, fp32.pre as Float32Array, F16_TOLERANCE, "pre");
    expectClose(f16.out, fp32.out as Float32Array, F16_TOLERANCE, "out");
    const differs = (f16.pre as Float32Array).some(
      (v, i) => Math.abs(v - ((fp32.pre as Float32Array)[i] as number)) > 1e-5,
    );
    expect(differs).toBe(true);
    expect(overflow).toBe(0);
  });

  it("dX = dY·Wᵀ (GELU gradient) and split weight gradients with bias sums", async (context) => {
    if (!device) return context.skip(skip);
    const dx = await both(
      device,
      { rows: M, cols: K, depth: N, a: "rowMajor", b: "transposed" },
      { kind: "geluGrad" },
      { a: dy, b: w, pre, out: M * K },
      ["out"],
    );
    expectClose(dx.f16.out, dx.fp32.out as Float32Array, F16_TOLERANCE, "dx");
    const dw = await both(
      device,
      { rows: K, cols: N, depth: M, a: "transposed", b: "rowMajor" },
      { kind: "weightGrad", splits: 1 },
      { a, b: dy, out: K * N, biasGrad: N },
      ["out", "biasGrad"],
    );
    expectClose(dw.f16.out, dw.fp32.out as Float32Array, F16_TOLERANCE, "dW");
    expectClose(dw.f16.biasGrad, dw.fp32.biasGrad as Float32Array, F16_TOLERANCE, "db");
  });

  it("accumulates in f32: 4096 products of 1·1 sum to 4096 (an f16 accumulator stops at 2048)", async (context) => {
    if (!device) return context.skip(skip);
    const depth = 4096;
    const out = await runKernels(
      device,
      [
        matmul(
          "ones",
          { rows: 2, cols: 3, depth, a: "rowMajor", b: "rowMajor" },
          { kind: "store", bias: false },
          F16,
        ),
      ],
      {
        a: new Float32Array(2 * depth).fill(1),
        b: new Float32Array(depth * 3).fill(1),
        out: 6,
        overflow: new Uint32Array(1),
      },
      ["out"],
    );
    expect([...(out.out as Float32Array)]).toEqual([4096, 4096, 4096, 4096, 4096, 4096]);
  });

  it("flags an input beyond f16's range (or inf) in the overflow word; in-range inputs leave it 0", async (context) => {
    if (!device) return context.skip(skip);
    const shape = { rows: M, cols: N, depth: K, a: "rowMajor", b: "rowMajor" } as const;
    for (const [value, flagged] of [
      [65504, 0],
      [70000, 1],
      [Number.POSITIVE_INFINITY, 1],
      [Number.NaN, 1],
    ] as const) {
      const big = Float32Array.from(a);
      big[5 * K + 3] = value;
      const { overflow } = await both(
        device,
        shape,
        { kind: "store", bias: true },
        { a: big, b: w, bias, out: M * N },
        ["out"],
      );
      expect(overflow, `input ${value}`).toBe(flagged);
    }
  });
});
