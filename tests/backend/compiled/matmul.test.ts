import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { matmul } from "../../../src/backend/compiled/kernels/matmul.ts";
import { sumPartials } from "../../../src/backend/compiled/kernels/reduce.ts";
import { geluBackward, geluForward } from "../../../src/model/backward.ts";
import { dawnDevice, runKernels } from "./harness.ts";
import { expectClose, randomArray } from "./reference.ts";

// fp32 sums of up to 80 products in another order than tfjs': relative error ~1e-6; 1e-5 leaves room.
const TOLERANCE = 1e-5;

let device: GPUDevice | null = null;
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else device = found.device;
});
afterAll(() => device?.destroy());

const [M, K, N] = [70, 37, 80]; // not multiples of the 64×64 tile or the 16-deep slice
const a = randomArray(M * K, 1);
const w = randomArray(K * N, 2);
const bias = randomArray(N, 3);
const tensor = (values: Float32Array, shape: number[]) => tf.tensor(values, shape);

describe("compiled matmul kernels", () => {
  it("x·W + b, GELU epilogue (pre-activation kept)", async (context) => {
    if (!device) return context.skip(skip);
    const out = await runKernels(
      device,
      [matmul("fc1", { rows: M, cols: N, depth: K, a: "rowMajor", b: "rowMajor" }, { kind: "gelu" })],
      { a, b: w, bias, pre: M * N, out: M * N },
      ["pre", "out"],
    );
    const pre = tf.add(tf.matMul(tensor(a, [M, K]), tensor(w, [K, N])), tensor(bias, [N])) as tf.Tensor2D;
    expectClose(out.pre, pre.dataSync(), TOLERANCE);
    expectClose(out.out, geluForward(pre).out.dataSync(), TOLERANCE);
  });

  it("dX = dY·Wᵀ with the GELU gradient epilogue", async (context) => {
    if (!device) return context.skip(skip);
    const dy = randomArray(M * N, 4);
    const pre = randomArray(M * K, 5);
    const out = await runKernels(
      device,
      [matmul("dx", { rows: M, cols: K, depth: N, a: "rowMajor", b: "transposed" }, { kind: "geluGrad" })],
      { a: dy, b: w, pre, out: M * K },
      ["out"],
    );
    const preT = tensor(pre, [M, K]) as tf.Tensor2D;
    const dx = tf.matMul(tensor(dy, [M, N]), tensor(w, [K, N]), false, true) as tf.Tensor2D;
    expectClose(out.out, geluBackward(dx, preT, geluForward(preT).cdf).dataSync(), TOLERANCE);
  });

  it("dW = Xᵀ·dY and db = Σ dY, whole and split over rows", async (context) => {
    if (!device) return context.skip(skip);
    const dy = randomArray(M * N, 6);
    const expectedW = tf.matMul(tensor(a, [M, K]), tensor(dy, [M, N]), true, false).dataSync();
    const expectedB = tf.sum(tensor(dy, [M, N]), 0).dataSync();
    const shape = { rows: K, cols: N, depth: M, a: "transposed", b: "rowMajor" } as const;
    const whole = await runKernels(
      device,
      [matmul("dw", shape, { kind: "weightGrad", splits: 1 })],
      { a, b: dy, out: K * N, biasGrad: N },
      ["out", "biasGrad"],
    );
    expectClose(whole.out, expectedW, TOLERANCE);
    expectClose(whole.biasGrad, expectedB, TOLERANCE);
    const splits = 3;
    const split = await runKernels(
      device,
      [
        matmul("dw", shape, { kind: "weightGrad", splits }),
        sumPartials("dw.sum", splits, [
          { name: "out", length: K * N },
          { name: "biasGrad", length: N },
        ]),
      ],
      { a, b: dy, partials: splits * (K + 1) * N, out: K * N, biasGrad: N },
      ["out", "biasGrad"],
    );
    expectClose(split.out, expectedW, TOLERANCE);
    expectClose(split.biasGrad, expectedB, TOLERANCE);
  });

  it("residual epilogue with ReZero and per-sample keep scaling, branch kept", async (context) => {
    if (!device) return context.skip(skip);
    const tokens = 7; // 70 rows = 10 samples
    const residual = randomArray(M * N, 7);
    const keep = Float32Array.from({ length: M / tokens }, (_, i) => (i % 3 === 0 ? 0 : 1.25));
    const rezero = Float32Array.of(0.3);
    const out = await runKernels(
      device,
      [
        matmul(
          "proj",
          { rows: M, cols: N, depth: K, a: "rowMajor", b: "rowMajor" },
          { kind: "residual", tokens, keep: true, rezero: true, saveBranch: true },
        ),
      ],
      { a, b: w, bias, residual, keep, rezero, branch: M * N, out: M * N },
      ["branch", "out"],
    );
    const branch = tf.add(tf.matMul(tensor(a, [M, K]), tensor(w, [K, N])), tensor(bias, [N]));
    const rowKeep = tf.reshape(tf.tile(tf.reshape(tensor(keep, [M / tokens]), [-1, 1]), [1, tokens]), [M, 1]);
    const expected = tf.add(tensor(residual, [M, N]), tf.mul(tf.mul(branch, 0.3), rowKeep));
    expectClose(out.branch, branch.dataSync(), TOLERANCE);
    expectClose(out.out, expected.dataSync(), TOLERANCE);
  });
});
