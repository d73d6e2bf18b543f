import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AttentionShape,
  attentionBackward,
  attentionForward,
  attentionSavedFloats,
  attentionScratchFloats,
  attentionWorkgroupBytes,
} from "../../../src/backend/compiled/kernels/attention.ts";
import { createRandom } from "../../../src/core/random.ts";
import { dawnDevice, runKernels } from "./harness.ts";

// Throws under CI without an adapter (tests/support/webgpu-adapter.ts).
const gpu = await dawnDevice();
const device = "device" in gpu ? gpu.device : null;

/** Uniform in [-2, 2): scores spread enough that the softmax is far from uniform. */
function randomArray(length: number, seed: number): Float32Array {
  const random = createRandom(seed);
  return Float32Array.from({ length }, () => 4 * random() - 2);
}

/** [B·N, 3·H·dh] → q, k, v as [B, H, N, dh], as the model splits them. */
function attentionOf(qkv: tf.Tensor, shape: AttentionShape): { out: tf.Tensor; scores: tf.Tensor } {
  const { batch, tokens, heads, headWidth } = shape;
  const parts = tf.transpose(tf.reshape(qkv, [batch, tokens, 3, heads, headWidth]), [2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(parts) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]; // [B, H, N, dh]
  const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(headWidth)), k, false, true); // [B, H, N, N]
  const mixed = tf.matMul(tf.softmax(scores), v); // [B, H, N, dh]
  const out = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [batch * tokens, heads * headWidth]);
  return { out, scores };
}

/** The tfjs reference on the cpu backend: out, each row's log-sum-exp and dQkv by autodiff. */
function reference(shape: AttentionShape, qkv: Float32Array, dAttn: Float32Array) {
  return tf.tidy(() => {
    const rows = shape.batch * shape.tokens;
    const width = shape.heads * shape.headWidth;
    const input = tf.tensor2d(qkv, [rows, 3 * width]);
    const { out, scores } = attentionOf(input, shape);
    const dQkv = tf.grad((x: tf.Tensor) => attentionOf(x, shape).out)(
      input,
      tf.tensor2d(dAttn, [rows, width]),
    );
    return {
      attn: out.dataSync() as Float32Array,
      logSumExp: tf.logSumExp(scores, -1).dataSync() as Float32Array,
      dQkv: dQkv.dataSync() as Float32Array,
    };
  });
}

/** max |got − want| over max |want|: fp32 results that sum in another order differ by a few ulps of the largest terms. */
function relativeError(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs((got[i] ?? Number.NaN) - (want[i] ?? 0)));
    scale = Math.max(scale, Math.abs(want[i] ?? 0));
  }
  return Number.isNaN(worst) ? Number.POSITIVE_INFINITY : worst / scale;
}

// fp32 on both sides with another summation order (online softmax, tiles) and another exp:
// at most 1e-6 of the largest value observed, so 1e-5 leaves a margin and still catches any
// indexing or masking error (those are of the order of the values themselves).
const TOLERANCE = 1e-5;

const SHAPES: AttentionShape[] = [
  { batch: 1, tokens: 5, heads: 2, headWidth: 6 }, // dh not a multiple of 4: scalar loads
  { batch: 2, tokens: 17, heads: 3, headWidth: 8 },
  { batch: 1, tokens: 17, heads: 1, headWidth: 4 },
  { batch: 2, tokens: 65, heads: 2, headWidth: 16 },
  { batch: 1, tokens: 40, heads: 3, headWidth: 64 },
  { batch: 1, tokens: 197, heads: 1, headWidth: 64 },
];

describe.skipIf(!device)(
  `attention kernels on WebGPU${"skip" in gpu ? ` (skipped: ${gpu.skip})` : ""}`,
  () => {
    beforeAll(async () => {
      await tf.setBackend("cpu");
    });

    it("stays within WebGPU's portable 16 KiB of workgroup memory", () => {
      for (const headWidth of [4, 6, 16, 64, 128])
        for (const bytes of attentionWorkgroupBytes({ batch: 1, tokens: 197, heads: 3, headWidth }))
          expect(bytes).toBeLessThanOrEqual(16384);
    });

    it.each(SHAPES)(
      "B$batch N$tokens H$heads dh$headWidth: out, log-sum-exp, dQ, dK, dV match tfjs",
      async (shape) => {
        if (!device) return;
        const rows = shape.batch * shape.tokens;
        const width = shape.heads * shape.headWidth;
        const qkv = randomArray(rows * 3 * width, rows + width);
        const dAttn = randomArray(rows * width, rows * width);
        const tensorsBefore = tf.memory().numTensors;
        const want = reference(shape, qkv, dAttn);
        expect(tf.memory().numTensors).toBe(tensorsBefore);
        const got = await runKernels(
          device,
          [...attentionForward(shape), ...attentionBackward(shape)],
          {
            qkv,
            dAttn,
            attn: rows * width,
            attnSaved: attentionSavedFloats(shape),
            attnScratch: Math.max(1, attentionScratchFloats(shape)),
            // Garbage to start with: the backward must overwrite every element.
            dQkv: randomArray(rows * 3 * width, 7),
          },
          ["attn", "attnSaved", "dQkv"],
        );
        const errors = {
          attn: relativeError(got.attn ?? new Float32Array(), want.attn),
          logSumExp: relativeError(got.attnSaved ?? new Float32Array(), want.logSumExp),
          dQkv: relativeError(got.dQkv ?? new Float32Array(), want.dQkv),
        };
        console.log(`attention ${JSON.stringify(shape)} relative errors ${JSON.stringify(errors)}`);
        expect(errors.attn).toBeLessThan(TOLERANCE);
        expect(errors.logSumExp).toBeLessThan(TOLERANCE);
        expect(errors.dQkv).toBeLessThan(TOLERANCE);
      },
    );
  },
);
