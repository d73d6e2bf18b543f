import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, f32, grid1d, LINEAR_WORKGROUP, workgroupSum } from "./wgsl.ts";

/**
 * The classifier head and its loss: the class token's row of the stream, the final LayerNorm,
 * the linear head, label-smoothed cross-entropy (mean over the batch, as train/loss.ts), the
 * count of correct top-1 predictions and every gradient, in three kernels: per sample forward +
 * dLogits, per sample backward into the stream's class rows, and the sums over samples (weight
 * gradients, loss, correct) that fill "metrics" = [mean loss, correct].
 */
export interface HeadShape {
  readonly batch: number;
  readonly tokens: number;
  readonly width: number;
  readonly classes: number;
  readonly smoothing: number;
  readonly epsilon: number;
  /** dLogits (and so every gradient) multiplied by the loss scale, read from "lossScale"[0] (mixed precision). */
  readonly lossScaled?: boolean;
}

const LANES = 64;
const read = (name: string): KernelBinding => ({ name, access: "read" });
const write = (name: string): KernelBinding => ({ name, access: "read_write" });

function constants(shape: HeadShape): string {
  return `
const B = ${shape.batch}u;
const N = ${shape.tokens}u;
const D = ${shape.width}u;
const C = ${shape.classes}u;`;
}

/** Per sample: LN of the class row (kept in "headNorm"/"headStats"), logits, loss, correct, dLogits. */
export function headForward(shape: HeadShape): KernelSource {
  const bindings = [
    read("stream"),
    read("gamma"),
    read("beta"),
    read("headW"),
    read("headB"),
    read("targets"),
    read("labels"),
    write("headNorm"),
    write("headStats"),
    write("dLogits"),
    write("sampleLoss"),
    ...(shape.lossScaled ? [read("lossScale")] : []),
  ];
  const { smoothing, classes } = shape;
  // fp32 keeps its exact arithmetic (÷ batch); a scaled loss multiplies by scale ÷ batch.
  const scaleGradient = (value: string) =>
    shape.lossScaled ? `${value} * (lossScale[0] / ${f32(shape.batch)})` : `${value} / ${f32(shape.batch)}`;
  const smoothed =
    smoothing > 0
      ? `targets[b * C + c] * ${f32(1 - smoothing)} + ${f32(smoothing / classes)}`
      : "targets[b * C + c]";
  const code = `
${declareBindings(bindings)}
${constants(shape)}
${workgroupSum(LANES)}
var<workgroup> normed: array<f32, ${shape.width}>;
var<workgroup> logits: array<f32, ${shape.classes}>;
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let b = ${LINEAR_WORKGROUP};
  if (b >= B) { return; }
  let base = b * N * D;
  var sum = 0.0;
  for (var d = lane; d < D; d = d + ${LANES}u) { sum = sum + stream[base + d]; }
  let mean = workgroup_sum(sum, lane) / ${f32(shape.width)};
  var squares = 0.0;
  for (var d = lane; d < D; d = d + ${LANES}u) { let c = stream[base + d] - mean; squares = squares + c * c; }
  let rstd = inverseSqrt(workgroup_sum(squares, lane) / ${f32(shape.width)} + ${f32(shape.epsilon)});
  for (var d = lane; d < D; d = d + ${LANES}u) {
    let value = (stream[base + d] - mean) * rstd * gamma[d] + beta[d];
    normed[d] = value;
    headNorm[b * D + d] = value;
  }
  if (lane == 0u) { headStats[b * 2u] = mean; headStats[b * 2u + 1u] = rstd; }
  workgroupBarrier();
  var peak = -3.4e38;
  for (var c = lane; c < C; c = c + ${LANES}u) {
    var value = headB[c];
    for (var d = 0u; d < D; d = d + 1u) { value = fma(normed[d], headW[d * C + c], value); }
    logits[c] = value;
    peak = max(peak, value);
  }
  peak = workgroup_max(peak, lane);
  var exps = 0.0;
  for (var c = lane; c < C; c = c + ${LANES}u) { exps = exps + exp(logits[c] - peak); }
  let log_total = log(workgroup_sum(exps, lane));
  var loss = 0.0;
  var mass = 0.0;
  for (var c = lane; c < C; c = c + ${LANES}u) {
    let soft = ${smoothed};
    loss = loss - soft * (logits[c] - peak - log_total);
    mass = mass + soft;
  }
  loss = workgroup_sum(loss, lane);
  mass = workgroup_sum(mass, lane);
  for (var c = lane; c < C; c = c + ${LANES}u) {
    let soft = ${smoothed};
    dLogits[b * C + c] = ${scaleGradient("(exp(logits[c] - peak - log_total) * mass - soft)")};
  }
  if (lane == 0u) {
    var best = 0u;
    for (var c = 1u; c < C; c = c + 1u) { if (logits[c] > logits[best]) { best = c; } }
    sampleLoss[b * 2u] = loss;
    sampleLoss[b * 2u + 1u] = select(0.0, 1.0, f32(best) == labels[b]);
  }
}`;
  return { label: "head.forward", code, bindings, grid: grid1d(shape.batch) };
}

/** Per sample: dNorm = dLogits·Wᵀ (kept for dγ, dβ) and the LN backward into the stream's class row. */
export function headBackward(shape: HeadShape): KernelSource {
  const bindings = [
    read("stream"),
    read("headStats"),
    read("gamma"),
    read("headW"),
    read("dLogits"),
    write("dHeadNorm"),
    write("dStream"),
  ];
  const code = `
${declareBindings(bindings)}
${constants(shape)}
${workgroupSum(LANES)}
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let b = ${LINEAR_WORKGROUP};
  if (b >= B) { return; }
  let base = b * N * D;
  let mean = headStats[b * 2u];
  let rstd = headStats[b * 2u + 1u];
  var sum_g = 0.0;
  var sum_gx = 0.0;
  for (var d = lane; d < D; d = d + ${LANES}u) {
    var dn = 0.0;
    for (var c = 0u; c < C; c = c + 1u) { dn = fma(dLogits[b * C + c], headW[d * C + c], dn); }
    dHeadNorm[b * D + d] = dn;
    let g = dn * gamma[d];
    sum_g = sum_g + g;
    sum_gx = sum_gx + g * (stream[base + d] - mean) * rstd;
  }
  let mean_g = workgroup_sum(sum_g, lane) / ${f32(shape.width)};
  let mean_gx = workgroup_sum(sum_gx, lane) / ${f32(shape.width)};
  for (var d = lane; d < D; d = d + ${LANES}u) {
    let g = dHeadNorm[b * D + d] * gamma[d];
    let normalised = (stream[base + d] - mean) * rstd;
    dStream[base + d] = rstd * (g - mean_g - normalised * mean_gx);
  }
}`;
  return { label: "head.backward", code, bindings, grid: grid1d(shape.batch) };
}

/** Sums over samples: dW, db of the head, dγ, dβ of the final norm, and metrics = [mean loss, correct]. */
export function headReduce(shape: HeadShape): KernelSource {
  const bindings = [
    read("stream"),
    read("headStats"),
    read("headNorm"),
    read("dHeadNorm"),
    read("dLogits"),
    read("sampleLoss"),
    write("dHeadW"),
    write("dHeadB"),
    write("dGamma"),
    write("dBeta"),
    write("metrics"),
  ];
  const { width: D, classes: C } = shape;
  const total = D * C + C + 2 * D + 2;
  const code = `
${declareBindings(bindings)}
${constants(shape)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let index = ${LINEAR_WORKGROUP} * 256u + lane;
  if (index >= ${total}u) { return; }
  var sum = 0.0;
  if (index < ${D * C}u) {
    let d = index / C;
    let c = index % C;
    for (var b = 0u; b < B; b = b + 1u) { sum = fma(headNorm[b * D + d], dLogits[b * C + c], sum); }
    dHeadW[index] = sum;
  } else if (index < ${D * C + C}u) {
    let c = index - ${D * C}u;
    for (var b = 0u; b < B; b = b + 1u) { sum = sum + dLogits[b * C + c]; }
    dHeadB[c] = sum;
  } else if (index < ${D * C + C + D}u) {
    let d = index - ${D * C + C}u;
    for (var b = 0u; b < B; b = b + 1u) {
      let normalised = (stream[b * N * D + d] - headStats[b * 2u]) * headStats[b * 2u + 1u];
      sum = fma(dHeadNorm[b * D + d], normalised, sum);
    }
    dGamma[d] = sum;
  } else if (index < ${D * C + C + 2 * D}u) {
    let d = index - ${D * C + C + D}u;
    for (var b = 0u; b < B; b = b + 1u) { sum = sum + dHeadNorm[b * D + d]; }
    dBeta[d] = sum;
  } else {
    let which = index - ${D * C + C + 2 * D}u;
    for (var b = 0u; b < B; b = b + 1u) { sum = sum + sampleLoss[b * 2u + which]; }
    metrics[which] = select(sum, sum / ${f32(shape.batch)}, which == 0u);
  }
}`;
  return { label: "head.reduce", code, bindings, grid: grid1d(Math.ceil(total / 256)) };
}
