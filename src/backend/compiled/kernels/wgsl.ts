import type { KernelBinding } from "../kernel.ts";

/**
 * Small pieces every generated kernel shares: binding declarations derived from the binding list
 * (so code and bindings never drift), a 2-D grid for counts beyond one dimension's 65,535
 * workgroups, and the exact GELU pieces.
 */

/** `@group(0) @binding(i) var<storage, …> name: array<f32>;` for each binding, in order. */
export function declareBindings(
  bindings: readonly KernelBinding[],
  /** The array element type of a storage buffer (a kernel that loads vectors names its own). */
  element: (name: string) => string = () => "f32",
): string {
  return bindings
    .map((binding, index) => {
      if (binding.access === "uniform") {
        return `@group(0) @binding(${index}) var<uniform> ${binding.name}: array<vec4<u32>, ${DIMS_VECTORS}>;`;
      }
      return `@group(0) @binding(${index}) var<storage, ${binding.access}> ${binding.name}: array<${element(binding.name)}>;`;
    })
    .join("\n");
}

/** vec4<u32>s of a kernel's uniform `dims` (KernelSource.constants): 16 values. */
export const DIMS_VECTORS = 4;

/** WGSL expression of value i of `dims`. */
export const dim = (i: number): string => `dims[${Math.floor(i / 4)}][${i % 4}]`;

/** Workgroups along x before the grid wraps to y. */
export const GRID_X = 32768;

/** A grid of `count` workgroups: [x, y, 1] with x ≤ GRID_X. */
export function grid1d(count: number): [number, number, number] {
  return [Math.min(count, GRID_X), Math.max(1, Math.ceil(count / GRID_X)), 1];
}

/** WGSL expression of the linear workgroup index for a `grid1d` grid (`wg` is the workgroup id). */
export const LINEAR_WORKGROUP = `(wg.y * ${GRID_X}u + wg.x)`;

/** WGSL float literal (always with a decimal point or exponent). */
export function f32(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite constant: ${value}`);
  const text = String(Math.fround(value));
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/**
 * erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: below fp32's resolution at the values GELU
 * reads) — WGSL has no erf builtin. Φ(x) = ½(1 + erf(x/√2)) and φ(x) follow.
 */
export const GELU_FUNCTIONS = `
fn erf_approx(x: f32) -> f32 {
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-a * a));
}
fn normal_cdf(x: f32) -> f32 { return 0.5 * (1.0 + erf_approx(x * 0.70710678118654752)); }
fn normal_pdf(x: f32) -> f32 { return 0.39894228040143268 * exp(-0.5 * x * x); }
`;

/** Sum of `value` over a workgroup of `size` threads (a power of two) through `scratch`. */
export function workgroupSum(size: number): string {
  return `
var<workgroup> reduce_scratch: array<f32, ${size}>;
fn workgroup_sum(value: f32, lane: u32) -> f32 {
  reduce_scratch[lane] = value;
  workgroupBarrier();
  for (var stride = ${size / 2}u; stride > 0u; stride = stride >> 1u) {
    if (lane < stride) { reduce_scratch[lane] = reduce_scratch[lane] + reduce_scratch[lane + stride]; }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  workgroupBarrier();
  return total;
}
fn workgroup_max(value: f32, lane: u32) -> f32 {
  reduce_scratch[lane] = value;
  workgroupBarrier();
  for (var stride = ${size / 2}u; stride > 0u; stride = stride >> 1u) {
    if (lane < stride) { reduce_scratch[lane] = max(reduce_scratch[lane], reduce_scratch[lane + stride]); }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  workgroupBarrier();
  return total;
}`;
}
