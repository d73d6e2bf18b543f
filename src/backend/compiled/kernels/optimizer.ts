import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, f32, grid1d, LINEAR_WORKGROUP, workgroupSum } from "./wgsl.ts";

/**
 * The update over the flat parameter buffer, in two kernels: the squared gradient norm in
 * per-workgroup partial sums, then clipping by the global norm, AdamW (decoupled weight decay,
 * bias-corrected moments, as train/adamw.ts) and every EMA (as train/ema.ts) in one pass.
 * "flags" holds per element 0 (inactive this step: value and moments kept, gradient ignored),
 * 1 (active) or 2 (active and decayed). Every EMA averages every element, as the tfjs EMAs do.
 */
export interface OptimizerShape {
  /** Floats in the flat buffers (params, grads, moments; each EMA's slice of "emas"). */
  readonly size: number;
  readonly emas: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Clipping by global norm is compiled in; its threshold is a step scalar. */
  readonly clip: boolean;
}

/** The step's scalars, as floats of the "scalars" binding. */
export const SCALAR = { lr: 0, correction1: 1, correction2: 2, maxNorm: 3, emaDecay: 4 } as const;
export const scalarCount = (emas: number): number => SCALAR.emaDecay + emas;

const THREADS = 256;
/** Elements per thread; a workgroup covers THREADS · ITEMS consecutive floats. */
const ITEMS = 16;
const read = (name: string): KernelBinding => ({ name, access: "read" });
const write = (name: string): KernelBinding => ({ name, access: "read_write" });

/** Workgroups of a pass over the flat buffer (and partial sums of the norm). */
export function optimizerWorkgroups(size: number): number {
  return Math.ceil(size / (THREADS * ITEMS));
}

function loop(body: string): string {
  return `
  let first = ${LINEAR_WORKGROUP} * ${THREADS * ITEMS}u + lane;
  for (var item = 0u; item < ${ITEMS}u; item = item + 1u) {
    let i = first + item * ${THREADS}u;
    if (i < SIZE) {
      ${body}
    }
  }`;
}

export function gradientSquares(shape: OptimizerShape): KernelSource {
  const bindings = [read("grads"), read("flags"), write("partials")];
  const groups = optimizerWorkgroups(shape.size);
  const code = `
${declareBindings(bindings)}
const SIZE = ${shape.size}u;
${workgroupSum(THREADS)}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  var sum = 0.0;
  ${loop("let g = select(0.0, grads[i], flags[i] > 0.5); sum = fma(g, g, sum);")}
  let total = workgroup_sum(sum, lane);
  if (lane == 0u) { partials[${LINEAR_WORKGROUP}] = total; }
}`;
  return { label: "optimizer.norm", code, bindings, grid: grid1d(groups) };
}

export function adamwEma(shape: OptimizerShape): KernelSource {
  const groups = optimizerWorkgroups(shape.size);
  const bindings = [
    read("grads"),
    read("flags"),
    read("scalars"),
    ...(shape.clip ? [read("partials")] : []),
    write("params"),
    write("firstMoment"),
    write("secondMoment"),
    ...(shape.emas > 0 ? [write("emas")] : []),
  ];
  const { beta1, beta2 } = shape;
  // tf.clipByGlobalNorm's arithmetic as train/adamw.ts: g · min(maxNorm / (‖g‖ + 1e-6), 1).
  const clipFactor = shape.clip
    ? `var squares = 0.0;
  for (var p = lane; p < ${groups}u; p = p + ${THREADS}u) { squares = squares + partials[p]; }
  let norm = sqrt(workgroup_sum(squares, lane));
  let clip = min(scalars[${SCALAR.maxNorm}] / (norm + ${f32(1e-6)}), 1.0);`
    : "let clip = 1.0;";
  const emaUpdates = Array.from(
    { length: shape.emas },
    (_, e) => `{
        let decay = scalars[${SCALAR.emaDecay + e}];
        let at = ${e}u * SIZE + i;
        emas[at] = emas[at] * decay + param * (1.0 - decay);
      }`,
  ).join("\n      ");
  const code = `
${declareBindings(bindings)}
const SIZE = ${shape.size}u;
${workgroupSum(THREADS)}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  ${clipFactor}
  let lr = scalars[${SCALAR.lr}];
  let correction1 = scalars[${SCALAR.correction1}];
  let correction2 = scalars[${SCALAR.correction2}];
  ${loop(`let flag = flags[i];
      var param = params[i];
      if (flag > 0.5) {
        let g = grads[i] * clip;
        let m = firstMoment[i] * ${f32(beta1)} + g * ${f32(1 - beta1)};
        let v = secondMoment[i] * ${f32(beta2)} + g * g * ${f32(1 - beta2)};
        firstMoment[i] = m;
        secondMoment[i] = v;
        let decay = select(0.0, ${f32(shape.weightDecay)}, flag > 1.5);
        let update = (m / correction1) / (sqrt(v / correction2) + ${f32(shape.epsilon)}) + param * decay;
        param = param - update * lr;
        params[i] = param;
      }
      ${emaUpdates}`)}
}`;
  return { label: "optimizer.adamw", code, bindings, grid: grid1d(groups) };
}
