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
  /**
   * Dynamic loss scaling (mixed precision): gradients arrive multiplied by "lossScale"[SCALE]; a
   * step whose gradients hold an inf/NaN or whose f16 matmul inputs overflowed ("overflow") is
   * skipped — parameters, moments and EMAs untouched — and `updateLossScale` halves the scale.
   * Bias correction counts applied updates on the GPU ("lossScale"[APPLIED]), so a skipped step
   * is not an update, as with PyTorch's GradScaler.
   */
  readonly lossScaling?: boolean;
}

/** Floats of the loss-scale state buffer, which lives with the model and is read back with each step's metrics. */
export const LOSS_SCALE = {
  scale: 0,
  cleanSteps: 1,
  skippedSteps: 2,
  appliedUpdates: 3,
  lastSkipped: 4,
} as const;
export const LOSS_SCALE_FLOATS = 5;
/** The scale never leaves [2⁻²⁴, 2²⁴]: below, f16 gradients are all zero; above, every step overflows. */
export const LOSS_SCALE_LIMITS = { min: 2 ** -24, max: 2 ** 24 } as const;

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
  const scaled = shape.lossScaling === true;
  const bindings = [
    read("grads"),
    read("flags"),
    read("scalars"),
    ...(shape.clip || scaled ? [read("partials")] : []),
    ...(scaled ? [read("lossScale"), read("overflow")] : []),
    write("params"),
    write("firstMoment"),
    write("secondMoment"),
    ...(shape.emas > 0 ? [write("emas")] : []),
  ];
  const { beta1, beta2 } = shape;
  // tf.clipByGlobalNorm's arithmetic as train/adamw.ts: g · min(maxNorm / (‖g‖ + 1e-6), 1).
  const squares = `var squares = 0.0;
  for (var p = lane; p < ${groups}u; p = p + ${THREADS}u) { squares = squares + partials[p]; }
  let norm_squared = workgroup_sum(squares, lane);`;
  // The norm is of the unscaled gradient; the scale's inverse is folded into the clip factor.
  const clipFactor = scaled
    ? `${squares}
  if (!step_is_finite(norm_squared)) { return; }
  let scale = lossScale[${LOSS_SCALE.scale}];
  ${shape.clip ? `let clip = min(scalars[${SCALAR.maxNorm}] / (sqrt(norm_squared) / scale + ${f32(1e-6)}), 1.0) / scale;` : "let clip = 1.0 / scale;"}`
    : shape.clip
      ? `${squares}
  let norm = sqrt(norm_squared);
  let clip = min(scalars[${SCALAR.maxNorm}] / (norm + ${f32(1e-6)}), 1.0);`
      : "let clip = 1.0;";
  const corrections = scaled
    ? `let updates = lossScale[${LOSS_SCALE.appliedUpdates}] + 1.0;
  let correction1 = 1.0 - pow(${f32(beta1)}, updates);
  let correction2 = 1.0 - pow(${f32(beta2)}, updates);`
    : `let correction1 = scalars[${SCALAR.correction1}];
  let correction2 = scalars[${SCALAR.correction2}];`;
  const emaUpdates = Array.from(
    { length: shape.emas },
    (_, e) => `{
        let decay = scalars[${SCALAR.emaDecay + e}];
        let at = ${e}u * SIZE + i;
        emas[at] = emas[at] * decay + param * (1.0 - decay);
      }`,
  ).join("\n      ");
  const code = `
${declareBindings(bindings, (name) => (name === "overflow" ? "u32" : "f32"))}
const SIZE = ${shape.size}u;
${workgroupSum(THREADS)}
${scaled ? STEP_IS_FINITE : ""}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  ${clipFactor}
  let lr = scalars[${SCALAR.lr}];
  ${corrections}
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

/**
 * True when no f16 matmul input overflowed and the squared gradient norm is finite (an inf or NaN
 * anywhere in the gradient makes it inf or NaN). The exponent bits are tested as integers, which
 * no fast-math assumption can fold away.
 */
const STEP_IS_FINITE = `
fn step_is_finite(norm_squared: f32) -> bool {
  return overflow[0] == 0u && (bitcast<u32>(norm_squared) & 0x7f800000u) != 0x7f800000u;
}`;

/**
 * After the update: the loss-scale state's bookkeeping. A skipped step halves the scale and resets
 * the clean count; a clean one counts an applied update and, every `growthInterval` clean steps,
 * doubles the scale. One workgroup; the norm is summed again from the partials.
 */
export function updateLossScale(shape: { size: number; growthInterval: number }): KernelSource {
  const groups = optimizerWorkgroups(shape.size);
  const bindings = [read("partials"), read("overflow"), write("lossScale")];
  const at = LOSS_SCALE;
  const code = `
${declareBindings(bindings, (name) => (name === "overflow" ? "u32" : "f32"))}
${workgroupSum(THREADS)}
${STEP_IS_FINITE}
@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) lane: u32) {
  var squares = 0.0;
  for (var p = lane; p < ${groups}u; p = p + ${THREADS}u) { squares = squares + partials[p]; }
  let norm_squared = workgroup_sum(squares, lane);
  if (lane != 0u) { return; }
  let scale = lossScale[${at.scale}];
  if (step_is_finite(norm_squared)) {
    lossScale[${at.appliedUpdates}] = lossScale[${at.appliedUpdates}] + 1.0;
    lossScale[${at.lastSkipped}] = 0.0;
    let clean = lossScale[${at.cleanSteps}] + 1.0;
    if (clean >= ${f32(shape.growthInterval)}) {
      lossScale[${at.scale}] = min(scale * 2.0, ${f32(LOSS_SCALE_LIMITS.max)});
      lossScale[${at.cleanSteps}] = 0.0;
    } else {
      lossScale[${at.cleanSteps}] = clean;
    }
  } else {
    lossScale[${at.scale}] = max(scale * 0.5, ${f32(LOSS_SCALE_LIMITS.min)});
    lossScale[${at.cleanSteps}] = 0.0;
    lossScale[${at.skippedSteps}] = lossScale[${at.skippedSteps}] + 1.0;
    lossScale[${at.lastSkipped}] = 1.0;
  }
}`;
  return { label: "optimizer.loss-scale", code, bindings, grid: [1, 1, 1] };
}
