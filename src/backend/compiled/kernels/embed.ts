import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, grid1d, LINEAR_WORKGROUP } from "./wgsl.ts";

/**
 * The patch embedding around its matmul (the matmul's "embed" epilogue scatters patch rows into
 * the stream): unfolding images into patch rows, the class-token rows, and the backward gather
 * that splits the stream's gradient into patch rows, the class token's and the position table's.
 */
export interface EmbedShape {
  readonly batch: number;
  readonly side: number;
  readonly patch: number;
  readonly channels: number;
  readonly width: number;
}

const read = (name: string): KernelBinding => ({ name, access: "read" });
const write = (name: string): KernelBinding => ({ name, access: "read_write" });

export function embedGeometry(shape: EmbedShape) {
  const grid = shape.side / shape.patch;
  return {
    grid,
    patches: grid * grid,
    tokens: grid * grid + 1,
    patchInputs: shape.patch * shape.patch * shape.channels,
  };
}

/**
 * images [B, r, r, C] → patches [B·g², p·p·C], patch (b, gy, gx) and inner index (py, px, c): the
 * order of the model's reshape/transpose unfold.
 */
export function unfoldPatches(shape: EmbedShape): KernelSource {
  const { batch, side, patch, channels } = shape;
  const { grid, patches, patchInputs } = embedGeometry(shape);
  const total = batch * patches * patchInputs;
  const bindings = [read("images"), write("patches")];
  const code = `
${declareBindings(bindings)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let index = ${LINEAR_WORKGROUP} * 256u + lane;
  if (index >= ${total}u) { return; }
  let inner = index % ${patchInputs}u;
  let row = index / ${patchInputs}u;
  let c = inner % ${channels}u;
  let px = (inner / ${channels}u) % ${patch}u;
  let py = inner / ${patch * channels}u;
  let gx = row % ${grid}u;
  let gy = (row / ${grid}u) % ${grid}u;
  let b = row / ${patches}u;
  let y = gy * ${patch}u + py;
  let x = gx * ${patch}u + px;
  patches[index] = images[((b * ${side}u + y) * ${side}u + x) * ${channels}u + c];
}`;
  return { label: "embed.unfold", code, bindings, grid: grid1d(Math.ceil(total / 256)) };
}

/** stream[b·N] = cls + pos[0] for every sample (the patch rows come from the matmul). */
export function classRows(shape: EmbedShape): KernelSource {
  const { batch, width } = shape;
  const { tokens } = embedGeometry(shape);
  const bindings = [read("cls"), read("pos"), write("stream")];
  const code = `
${declareBindings(bindings)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let index = ${LINEAR_WORKGROUP} * 256u + lane;
  if (index >= ${batch * width}u) { return; }
  let d = index % ${width}u;
  let b = index / ${width}u;
  stream[b * ${tokens * width}u + d] = cls[d] + pos[d];
}`;
  return { label: "embed.class", code, bindings, grid: grid1d(Math.ceil((batch * width) / 256)) };
}

/**
 * From the stream's gradient [B·N, D]: the patch rows' gradient [B·g², D] for the patch matmul's
 * weight gradient, the position table's (summed over samples) and the class token's (row 0 of it).
 */
export function embedBackward(shape: EmbedShape): KernelSource {
  const { batch, width } = shape;
  const { tokens, patches } = embedGeometry(shape);
  const bindings = [read("dStream"), write("dPatchRows"), write("dPos"), write("dCls")];
  const code = `
${declareBindings(bindings)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let index = ${LINEAR_WORKGROUP} * 256u + lane;
  if (index >= ${tokens * width}u) { return; }
  let d = index % ${width}u;
  let t = index / ${width}u;
  var total = 0.0;
  for (var b = 0u; b < ${batch}u; b = b + 1u) {
    let g = dStream[(b * ${tokens}u + t) * ${width}u + d];
    total = total + g;
    if (t > 0u) { dPatchRows[(b * ${patches}u + t - 1u) * ${width}u + d] = g; }
  }
  dPos[index] = total;
  if (t == 0u) { dCls[d] = total; }
}`;
  return { label: "embed.backward", code, bindings, grid: grid1d(Math.ceil((tokens * width) / 256)) };
}
