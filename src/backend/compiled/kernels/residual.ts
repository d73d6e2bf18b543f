import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, grid1d, LINEAR_WORKGROUP, workgroupSum } from "./wgsl.ts";

/**
 * The backward side of a scaled residual branch (y = x + s·keep·branch): the branch's gradient
 * dy·s·keep, and the ReZero scalar's gradient Σ dy·keep·branch over both branches of a block,
 * as per-workgroup partial sums (`sumPartials` adds them).
 */
export interface RowScaleShape {
  readonly rows: number;
  readonly width: number;
  readonly tokens: number;
  readonly keep: boolean;
  readonly rezero: boolean;
}

const read = (name: string): KernelBinding => ({ name, access: "read" });
const write = (name: string): KernelBinding => ({ name, access: "read_write" });
const THREADS = 256;
const ITEMS = 16;

function rowScale(shape: RowScaleShape): string {
  const factors = [
    shape.keep ? `keep[(i / ${shape.width}u) / ${shape.tokens}u]` : "",
    shape.rezero ? "rezero[0]" : "",
  ];
  return factors.filter(Boolean).join(" * ") || "1.0";
}

export function scaleRows(label: string, shape: RowScaleShape): KernelSource {
  const bindings = [
    read("dy"),
    ...(shape.keep ? [read("keep")] : []),
    ...(shape.rezero ? [read("rezero")] : []),
    write("out"),
  ];
  const total = shape.rows * shape.width;
  const code = `
${declareBindings(bindings)}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = ${LINEAR_WORKGROUP} * ${THREADS}u + lane;
  if (i >= ${total}u) { return; }
  out[i] = dy[i] * ${rowScale(shape)};
}`;
  return { label, code, bindings, grid: grid1d(Math.ceil(total / THREADS)) };
}

export const rezeroPartialCount = (shape: RowScaleShape): number =>
  Math.ceil((shape.rows * shape.width) / (THREADS * ITEMS));

/** partials[w] = Σ over workgroup w's elements of (dMlp·branchMlp + dAttn·branchAttn)·keep. */
export function rezeroGradPartials(label: string, shape: RowScaleShape): KernelSource {
  const bindings = [
    read("dMlp"),
    read("branchMlp"),
    read("dAttn"),
    read("branchAttn"),
    ...(shape.keep ? [read("keep")] : []),
    write("partials"),
  ];
  const total = shape.rows * shape.width;
  const keep = shape.keep ? `keep[(i / ${shape.width}u) / ${shape.tokens}u]` : "1.0";
  const code = `
${declareBindings(bindings)}
${workgroupSum(THREADS)}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let first = ${LINEAR_WORKGROUP} * ${THREADS * ITEMS}u + lane;
  var sum = 0.0;
  for (var item = 0u; item < ${ITEMS}u; item = item + 1u) {
    let i = first + item * ${THREADS}u;
    if (i < ${total}u) { sum = sum + (dMlp[i] * branchMlp[i] + dAttn[i] * branchAttn[i]) * ${keep}; }
  }
  let total_sum = workgroup_sum(sum, lane);
  if (lane == 0u) { partials[${LINEAR_WORKGROUP}] = total_sum; }
}`;
  return { label, code, bindings, grid: grid1d(rezeroPartialCount(shape)) };
}
