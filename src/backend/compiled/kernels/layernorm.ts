import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, f32, grid1d, LINEAR_WORKGROUP, workgroupSum } from "./wgsl.ts";

/**
 * LayerNorm over the last axis (ε as the model's LAYER_NORM_EPSILON): a forward kernel that
 * keeps each row's mean and 1/σ ("stats", [rows, 2]) and the backward pass as a row kernel (dx,
 * plus the gradient that flows around the norm) and a column kernel for dγ, dβ, split over rows.
 * One workgroup of 64 threads per row.
 */
const LANES = 64;

export interface LayerNormShape {
  readonly rows: number;
  readonly width: number;
  readonly epsilon: number;
}

const read = (name: string): KernelBinding => ({ name, access: "read" });
const write = (name: string): KernelBinding => ({ name, access: "read_write" });

/** out = (x − μ)/σ · γ + β; stats[row] = (μ, 1/σ). */
export function layerNormForward(label: string, shape: LayerNormShape): KernelSource {
  const bindings = [read("x"), read("gamma"), read("beta"), write("out"), write("stats")];
  const { rows, width } = shape;
  const code = `
${declareBindings(bindings)}
${workgroupSum(LANES)}
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = ${LINEAR_WORKGROUP};
  if (row >= ${rows}u) { return; }
  let base = row * ${width}u;
  var sum = 0.0;
  for (var d = lane; d < ${width}u; d = d + ${LANES}u) { sum = sum + x[base + d]; }
  let mean = workgroup_sum(sum, lane) / ${f32(width)};
  var squares = 0.0;
  for (var d = lane; d < ${width}u; d = d + ${LANES}u) { let c = x[base + d] - mean; squares = squares + c * c; }
  let rstd = inverseSqrt(workgroup_sum(squares, lane) / ${f32(width)} + ${f32(shape.epsilon)});
  for (var d = lane; d < ${width}u; d = d + ${LANES}u) {
    out[base + d] = (x[base + d] - mean) * rstd * gamma[d] + beta[d];
  }
  if (lane == 0u) { stats[row * 2u] = mean; stats[row * 2u + 1u] = rstd; }
}`;
  return { label, code, bindings, grid: grid1d(rows) };
}

/**
 * dx = around + (1/σ)·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ, x̂ = (x − μ)/σ; `around` (the
 * residual stream's own gradient) is added when given.
 */
export function layerNormBackward(label: string, shape: LayerNormShape, around: boolean): KernelSource {
  const bindings = [
    read("dy"),
    read("x"),
    read("stats"),
    read("gamma"),
    ...(around ? [read("around")] : []),
    write("dx"),
  ];
  const { rows, width } = shape;
  const code = `
${declareBindings(bindings)}
${workgroupSum(LANES)}
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = ${LINEAR_WORKGROUP};
  if (row >= ${rows}u) { return; }
  let base = row * ${width}u;
  let mean = stats[row * 2u];
  let rstd = stats[row * 2u + 1u];
  var sum_g = 0.0;
  var sum_gx = 0.0;
  for (var d = lane; d < ${width}u; d = d + ${LANES}u) {
    let g = dy[base + d] * gamma[d];
    sum_g = sum_g + g;
    sum_gx = sum_gx + g * (x[base + d] - mean) * rstd;
  }
  let mean_g = workgroup_sum(sum_g, lane) / ${f32(width)};
  let mean_gx = workgroup_sum(sum_gx, lane) / ${f32(width)};
  for (var d = lane; d < ${width}u; d = d + ${LANES}u) {
    let g = dy[base + d] * gamma[d];
    let normalised = (x[base + d] - mean) * rstd;
    dx[base + d] = ${around ? "around[base + d] + " : ""}rstd * (g - mean_g - normalised * mean_gx);
  }
}`;
  return { label, code, bindings, grid: grid1d(rows) };
}

/**
 * dγ = Σ dy·x̂ and dβ = Σ dy over rows, one thread per column; with splits > 1 each slice of rows
 * writes "partials" ([splits, 2·width]: dγ then dβ) for `sumPartials`.
 */
export function layerNormParamGrads(label: string, shape: LayerNormShape, splits: number): KernelSource {
  const { rows, width } = shape;
  const bindings = [
    read("dy"),
    read("x"),
    read("stats"),
    ...(splits > 1 ? [write("partials")] : [write("dGamma"), write("dBeta")]),
  ];
  const chunk = Math.ceil(rows / splits);
  const store =
    splits > 1
      ? `partials[wg.y * ${2 * width}u + d] = sum_gamma; partials[wg.y * ${2 * width}u + ${width}u + d] = sum_beta;`
      : "dGamma[d] = sum_gamma; dBeta[d] = sum_beta;";
  const code = `
${declareBindings(bindings)}
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let d = wg.x * ${LANES}u + lane;
  if (d >= ${width}u) { return; }
  let first = wg.y * ${chunk}u;
  let last = min(first + ${chunk}u, ${rows}u);
  var sum_gamma = 0.0;
  var sum_beta = 0.0;
  for (var row = first; row < last; row = row + 1u) {
    let g = dy[row * ${width}u + d];
    sum_gamma = sum_gamma + g * (x[row * ${width}u + d] - stats[row * 2u]) * stats[row * 2u + 1u];
    sum_beta = sum_beta + g;
  }
  ${store}
}`;
  return { label, code, bindings, grid: [Math.ceil(width / LANES), splits, 1] };
}

/** Row slices for the γ/β gradient: enough workgroups to fill a GPU, ≥ 64 rows each. */
export function paramGradSplits(rows: number, width: number): number {
  const columnGroups = Math.ceil(width / LANES);
  return Math.max(1, Math.min(Math.ceil(1024 / columnGroups), Math.floor(rows / 64)));
}
