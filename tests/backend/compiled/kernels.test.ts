import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attentionBackward,
  attentionForward,
  attentionSavedFloats,
  attentionScratchFloats,
} from "../../../src/backend/compiled/kernels/attention.ts";
import { classRows, embedBackward, unfoldPatches } from "../../../src/backend/compiled/kernels/embed.ts";
import { headBackward, headForward, headReduce } from "../../../src/backend/compiled/kernels/head.ts";
import {
  layerNormBackward,
  layerNormForward,
  layerNormParamGrads,
} from "../../../src/backend/compiled/kernels/layernorm.ts";
import { matmul } from "../../../src/backend/compiled/kernels/matmul.ts";
import {
  adamwEma,
  gradientSquares,
  optimizerWorkgroups,
  SCALAR,
  scalarCount,
} from "../../../src/backend/compiled/kernels/optimizer.ts";
import { sumPartials } from "../../../src/backend/compiled/kernels/reduce.ts";
import * as reference from "../../../src/model/backward.ts";
import type { ViTConfig } from "../../../src/model/config.ts";
import { embedPatches } from "../../../src/model/embed.ts";
import { classifierHead } from "../../../src/model/head.ts";
import { isDecayed } from "../../../src/model/params.ts";
import { AdamW, clipByGlobalNorm } from "../../../src/train/adamw.ts";
import { EmaCopy } from "../../../src/train/ema.ts";
import { FlatLayout } from "../../../src/train/flat.ts";
import { smoothedCrossEntropy } from "../../../src/train/loss.ts";
import { dawnDevice, runKernels } from "./harness.ts";
import { expectClose, randomArray } from "./reference.ts";

// fp32 throughout; sums of ≤ 100 terms in another order than tfjs' give relative errors ~1e-6,
// so 2e-5 (relative, absolute below 1) separates a summation-order difference from a wrong kernel.
const TOLERANCE = 2e-5;

let device: GPUDevice | null = null;
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else device = found.device;
});
afterAll(() => device?.destroy());

const data = (t: tf.Tensor) => t.dataSync() as Float32Array;

describe("compiled kernels against the tfjs model", () => {
  it("LayerNorm forward, backward (with the gradient around it) and γ/β gradients, split", async (context) => {
    if (!device) return context.skip(skip);
    const [rows, width] = [150, 24];
    const shape = { rows, width, epsilon: reference.LAYER_NORM_EPSILON };
    const x = randomArray(rows * width, 1, 3);
    const gamma = randomArray(width, 2);
    const beta = randomArray(width, 3);
    const dy = randomArray(rows * width, 4);
    const around = randomArray(rows * width, 5);
    const splits = 3;
    const out = await runKernels(
      device,
      [
        layerNormForward("ln", shape),
        layerNormBackward("ln.dx", shape, true),
        layerNormParamGrads("ln.dgamma", shape, splits),
        sumPartials("ln.sum", splits, [
          { name: "dGamma", length: width },
          { name: "dBeta", length: width },
        ]),
      ],
      {
        x,
        gamma,
        beta,
        out: rows * width,
        stats: rows * 2,
        dy,
        around,
        dx: rows * width,
        partials: splits * 2 * width,
        dGamma: width,
        dBeta: width,
      },
      ["out", "dx", "dGamma", "dBeta"],
    );
    const forward = reference.layerNormForward(
      tf.tensor2d(x, [rows, width]),
      tf.tensor1d(gamma),
      tf.tensor1d(beta),
    );
    expectClose(out.out, data(forward.out), TOLERANCE, "out");
    const [dx, dGamma, dBeta] = reference.layerNormBackward(
      tf.tensor2d(dy, [rows, width]),
      forward.cache,
      tf.tensor1d(gamma),
    );
    expectClose(out.dx, data(tf.add(dx, tf.tensor2d(around, [rows, width]))), TOLERANCE, "dx");
    expectClose(out.dGamma, data(dGamma), 1e-4, "dγ"); // 150-term sums
    expectClose(out.dBeta, data(dBeta), 1e-4, "dβ");
  });

  it("attention forward and backward", async (context) => {
    if (!device) return context.skip(skip);
    const shape = { batch: 2, tokens: 5, heads: 2, headWidth: 4 };
    const width = shape.heads * shape.headWidth;
    const rows = shape.batch * shape.tokens;
    const qkv = randomArray(rows * 3 * width, 6, 2);
    const dAttn = randomArray(rows * width, 7);
    const out = await runKernels(
      device,
      [...attentionForward(shape), ...attentionBackward(shape)],
      {
        qkv,
        attn: rows * width,
        attnSaved: attentionSavedFloats(shape),
        dAttn,
        attnScratch: attentionScratchFloats(shape),
        dQkv: rows * 3 * width,
      },
      ["attn", "dQkv"],
    );
    // The model's attention: heads of q/√dh, k, v; softmax(q·kᵀ)·v; heads merged back.
    const { batch, tokens, heads, headWidth } = shape;
    const attention = (input: tf.Tensor) => {
      const all = tf.transpose(tf.reshape(input, [batch, tokens, 3, heads, headWidth]), [2, 0, 3, 1, 4]);
      const part = (i: number) => tf.squeeze(tf.slice(all, [i, 0, 0, 0, 0], [1, -1, -1, -1, -1]), [0]);
      const probs = tf.softmax(tf.matMul(tf.mul(part(0), 1 / Math.sqrt(headWidth)), part(1), false, true));
      return tf.reshape(tf.transpose(tf.matMul(probs, part(2)), [0, 2, 1, 3]), [rows, width]);
    };
    const qkvTensor = tf.tensor2d(qkv, [rows, 3 * width]);
    expectClose(out.attn, data(attention(qkvTensor)), TOLERANCE, "attn");
    const [dQkv] = tf.grads((input: tf.Tensor) =>
      tf.sum(tf.mul(attention(input), tf.tensor2d(dAttn, [rows, width]))),
    )([qkvTensor]);
    expectClose(out.dQkv, data(dQkv as tf.Tensor), TOLERANCE, "dQkv");
  });

  const config: ViTConfig = {
    imageSize: 8,
    patchSize: 4,
    channels: 2,
    width: 12,
    depth: 1,
    heads: 2,
    mlpRatio: 2,
    numClasses: 5,
  };

  it("patch embedding: unfold, matmul scatter, class rows and their gradients", async (context) => {
    if (!device) return context.skip(skip);
    const batch = 3;
    const shape = { batch, side: 8, patch: 4, channels: 2, width: config.width };
    const [patchRows, patchInputs, tokens, width] = [batch * 4, 32, 5, config.width];
    const images = randomArray(batch * 8 * 8 * 2, 8);
    const weights = new Map<string, tf.Tensor>([
      ["embed.patch.w", tf.tensor2d(randomArray(patchInputs * width, 9), [patchInputs, width])],
      ["embed.patch.b", tf.tensor1d(randomArray(width, 10))],
      ["embed.cls", tf.tensor2d(randomArray(width, 11), [1, width])],
      ["embed.pos", tf.tensor2d(randomArray(tokens * width, 12), [tokens, width])],
    ]);
    const dStream = randomArray(batch * tokens * width, 13);
    const value = (name: string) => data(weights.get(name) as tf.Tensor);
    // The harness binds buffers by name: unfold, class rows and the backward gather first, then
    // the scatter matmul on the unfolded patches.
    const out = await runKernels(
      device,
      [unfoldPatches(shape), classRows(shape), embedBackward(shape)],
      {
        images,
        patches: patchRows * patchInputs,
        pos: value("embed.pos"),
        cls: value("embed.cls"),
        stream: batch * tokens * width,
        dStream,
        dPatchRows: patchRows * width,
        dPos: tokens * width,
        dCls: width,
      },
      ["patches", "stream", "dPatchRows", "dPos", "dCls"],
    );
    const second = await runKernels(
      device,
      [
        matmul(
          "embed",
          { rows: patchRows, cols: width, depth: patchInputs, a: "rowMajor", b: "rowMajor" },
          { kind: "embed", tokens },
        ),
      ],
      {
        a: out.patches as Float32Array,
        b: value("embed.patch.w"),
        bias: value("embed.patch.b"),
        pos: value("embed.pos"),
        out: batch * tokens * width,
      },
      ["out"],
    );
    const x = tf.tensor4d(images, [batch, 8, 8, 2]);
    const expected = embedPatches(config, weights, x, 2);
    // The matmul writes the patch rows, classRows the class rows: together the stream.
    const stream = (second.out as Float32Array).map((v, i) =>
      Math.floor(i / width) % tokens === 0 ? (out.stream?.[i] ?? 0) : v,
    );
    expectClose(stream, data(expected), TOLERANCE, "stream");
    const names = ["embed.patch.w", "embed.patch.b", "embed.cls", "embed.pos"];
    const grads = tf.grads((...ws: tf.Tensor[]) => {
      const map = new Map(names.map((n, i) => [n, ws[i] as tf.Tensor]));
      return tf.sum(tf.mul(embedPatches(config, map, x, 2), tf.tensor2d(dStream, [batch * tokens, width])));
    })(names.map((n) => weights.get(n) as tf.Tensor));
    const [dW, dB, dCls, dPos] = grads.map(data);
    const dPatchW = await runKernels(
      device,
      [
        matmul(
          "embed.dw",
          { rows: patchInputs, cols: width, depth: patchRows, a: "transposed", b: "rowMajor" },
          { kind: "weightGrad", splits: 2 },
        ),
        sumPartials("embed.dw.sum", 2, [
          { name: "out", length: patchInputs * width },
          { name: "biasGrad", length: width },
        ]),
      ],
      {
        a: out.patches as Float32Array,
        b: out.dPatchRows as Float32Array,
        partials: 2 * (patchInputs + 1) * width,
        out: patchInputs * width,
        biasGrad: width,
      },
      ["out", "biasGrad"],
    );
    expectClose(dPatchW.out, dW as Float32Array, TOLERANCE, "dW");
    expectClose(dPatchW.biasGrad, dB as Float32Array, TOLERANCE, "db");
    expectClose(out.dCls, dCls as Float32Array, TOLERANCE, "dCls");
    expectClose(out.dPos, dPos as Float32Array, TOLERANCE, "dPos");
  });

  it("head: LayerNorm, logits, label-smoothed loss, correct count and every gradient", async (context) => {
    if (!device) return context.skip(skip);
    const [batch, tokens, width, classes] = [6, 3, config.width, config.numClasses];
    const shape = { batch, tokens, width, classes, smoothing: 0.1, epsilon: reference.LAYER_NORM_EPSILON };
    const stream = randomArray(batch * tokens * width, 14, 2);
    const labels = Float32Array.from({ length: batch }, (_, i) => (i * 3) % classes);
    const targets = new Float32Array(batch * classes);
    labels.forEach((label, b) => {
      targets[b * classes + label] = 1;
    });
    const weights = new Map<string, tf.Tensor>([
      ["norm.gamma", tf.tensor1d(randomArray(width, 15))],
      ["norm.beta", tf.tensor1d(randomArray(width, 16))],
      ["head.w", tf.tensor2d(randomArray(width * classes, 17), [width, classes])],
      ["head.b", tf.tensor1d(randomArray(classes, 18))],
    ]);
    const value = (name: string) => data(weights.get(name) as tf.Tensor);
    const out = await runKernels(
      device,
      [headForward(shape), headBackward(shape), headReduce(shape)],
      {
        stream,
        gamma: value("norm.gamma"),
        beta: value("norm.beta"),
        headW: value("head.w"),
        headB: value("head.b"),
        targets,
        labels,
        headNorm: batch * width,
        headStats: batch * 2,
        dLogits: batch * classes,
        sampleLoss: batch * 2,
        dHeadNorm: batch * width,
        dStream: batch * tokens * width,
        dHeadW: width * classes,
        dHeadB: classes,
        dGamma: width,
        dBeta: width,
        metrics: 2,
      },
      ["dStream", "dHeadW", "dHeadB", "dGamma", "dBeta", "metrics"],
    );
    const names = ["norm.gamma", "norm.beta", "head.w", "head.b"];
    const streamTensor = tf.tensor2d(stream, [batch * tokens, width]);
    const targetTensor = tf.tensor2d(targets, [batch, classes]);
    const loss = (s: tf.Tensor, ...ws: tf.Tensor[]) => {
      const map = new Map(names.map((n, i) => [n, ws[i] as tf.Tensor]));
      const logits = classifierHead(config, map, s as tf.Tensor2D, { batch, tokens });
      return smoothedCrossEntropy(logits, targetTensor, 0.1);
    };
    const { value: lossValue, grads } = tf.valueAndGrads(loss)([
      streamTensor,
      ...names.map((n) => weights.get(n) as tf.Tensor),
    ]);
    const logits = classifierHead(config, weights, streamTensor, { batch, tokens });
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(labels, "int32")), "float32"));
    expectClose(
      out.metrics,
      [data(lossValue)[0] as number, data(correct)[0] as number],
      TOLERANCE,
      "metrics",
    );
    const [dStream, dGamma, dBeta, dW, dB] = grads.map(data);
    expectClose(out.dStream, dStream as Float32Array, TOLERANCE, "dStream");
    expectClose(out.dGamma, dGamma as Float32Array, TOLERANCE, "dγ");
    expectClose(out.dBeta, dBeta as Float32Array, TOLERANCE, "dβ");
    expectClose(out.dHeadW, dW as Float32Array, TOLERANCE, "dW");
    expectClose(out.dHeadB, dB as Float32Array, TOLERANCE, "db");
  });

  it("clipping, AdamW with decay and an inactive weight, and two EMAs in one pass", async (context) => {
    if (!device) return context.skip(skip);
    const shapes: [string, number[]][] = [
      ["a.w", [40, 50]],
      ["a.b", [50]],
      ["blocks.1.b", [3000]],
      ["c.w", [70, 30]],
    ];
    const layout = new FlatLayout(shapes);
    const weights = new Map(
      shapes.map(([name, shape], i) => [
        name,
        tf.variable(tf.tensor(randomArray(layout.entry(name).size, 20 + i), shape)),
      ]),
    );
    const active = ["a.w", "a.b", "c.w"];
    const grad = randomArray(layout.size, 30, 0.5);
    const flags = layout.mask((name) => active.includes(name));
    const decayFlags = layout.mask(isDecayed);
    for (let i = 0; i < flags.length; i++) flags[i] = (flags[i] as number) * (1 + (decayFlags[i] as number));
    for (const { name, offset, size } of layout.entries)
      if (!active.includes(name)) grad.fill(0, offset, offset + size);
    const options = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05, decayed: isDecayed };
    const optimizer = new AdamW(options);
    const emas = [new EmaCopy("fast", 0.9, weights), new EmaCopy("slow", 0.99, weights)];
    const params = data(layout.flatten(weights));
    const emaStart = new Float32Array([...params, ...params]);
    const shape = { size: layout.size, emas: 2, ...options, clip: true };
    const scalars = new Float32Array(scalarCount(2));
    const [lr, maxNorm] = [0.01, 1.5];
    scalars[SCALAR.lr] = lr;
    scalars[SCALAR.correction1] = 1 - 0.9;
    scalars[SCALAR.correction2] = 1 - 0.999;
    scalars[SCALAR.maxNorm] = maxNorm;
    scalars[SCALAR.emaDecay] = 0.9;
    scalars[SCALAR.emaDecay + 1] = 0.99;
    const out = await runKernels(
      device,
      [gradientSquares(shape), adamwEma(shape)],
      {
        grads: grad,
        flags,
        scalars,
        partials: optimizerWorkgroups(layout.size),
        params,
        firstMoment: layout.size,
        secondMoment: layout.size,
        emas: emaStart,
      },
      ["params", "firstMoment", "secondMoment", "emas"],
    );
    const clipped = clipByGlobalNorm(tf.tensor1d(grad), maxNorm);
    const next = optimizer.apply(weights, { layout, flat: clipped, updated: active }, lr);
    for (const ema of emas) ema.update(next, layout);
    expectClose(out.params, data(next), 1e-6, "params");
    const moments = optimizer.moments();
    expectClose(out.firstMoment, data(layout.flatten(moments.first)), 1e-6, "m");
    expectClose(out.secondMoment, data(layout.flatten(moments.second)), 1e-6, "v");
    const emaValues = emas.flatMap((ema) => [...data(layout.flatten(ema.weights))]);
    expectClose(out.emas, emaValues, 1e-6, "emas");
    expect(out.params?.slice(layout.entry("blocks.1.b").offset, layout.entry("c.w").offset)).toEqual(
      params.slice(layout.entry("blocks.1.b").offset, layout.entry("c.w").offset),
    );
  });
});
