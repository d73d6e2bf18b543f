import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, f32, grid1d, LINEAR_WORKGROUP } from "./wgsl.ts";

/**
 * Plain (unfused) attention with the contract of the fused kernels (kernels/attention.ts): reads
 * the qkv dense output [B·N, 3·H·dh] (q scaled by 1/√dh here), writes the merged heads [B·N, H·dh]
 * and keeps the probabilities [B, H, N, N] ("attnSaved") for the backward pass, which writes
 * dQkv and uses "attnScratch" ([B, H, N, N]) for the score gradients. One thread per query row
 * (per key row for dK, dV): correct on any shape, slow on large ones; the fused kernels replace it.
 */
export interface AttentionShape {
  readonly batch: number;
  readonly tokens: number;
  readonly heads: number;
  readonly headWidth: number;
}

const read = (name: string): KernelBinding => ({ name, access: "read" });
const write = (name: string): KernelBinding => ({ name, access: "read_write" });
const THREADS = 64;

export function attentionSavedFloats(shape: AttentionShape): number {
  return shape.batch * shape.heads * shape.tokens * shape.tokens;
}

export function attentionScratchFloats(shape: AttentionShape): number {
  return attentionSavedFloats(shape);
}

/** WGSL constants and the (b, h, row) of this thread; returns early past the last row. */
function prelude(shape: AttentionShape): string {
  const { batch, tokens, heads, headWidth } = shape;
  return `
const N = ${tokens}u;
const H = ${heads}u;
const DH = ${headWidth}u;
const WIDTH = ${heads * headWidth}u;
const SCALE = ${f32(1 / Math.sqrt(headWidth))};
fn qkv_at(row: u32, part: u32, h: u32, e: u32) -> u32 { return row * 3u * WIDTH + part * WIDTH + h * DH + e; }
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let index = ${LINEAR_WORKGROUP} * ${THREADS}u + lane;
  if (index >= ${batch * heads * tokens}u) { return; }
  let i = index % N;
  let bh = index / N;
  let h = bh % H;
  let b = bh / H;
  let probs_row = bh * N * N + i * N;`;
}

export function attentionForward(shape: AttentionShape): KernelSource[] {
  const bindings = [read("qkv"), write("attn"), write("attnSaved")];
  const code = `
${declareBindings(bindings)}
${prelude(shape)}
  var q: array<f32, ${shape.headWidth}>;
  for (var e = 0u; e < DH; e = e + 1u) { q[e] = qkv[qkv_at(b * N + i, 0u, h, e)] * SCALE; }
  var peak = -3.4e38;
  for (var j = 0u; j < N; j = j + 1u) {
    var score = 0.0;
    for (var e = 0u; e < DH; e = e + 1u) { score = fma(q[e], qkv[qkv_at(b * N + j, 1u, h, e)], score); }
    attnSaved[probs_row + j] = score;
    peak = max(peak, score);
  }
  var total = 0.0;
  for (var j = 0u; j < N; j = j + 1u) {
    let p = exp(attnSaved[probs_row + j] - peak);
    attnSaved[probs_row + j] = p;
    total = total + p;
  }
  var out: array<f32, ${shape.headWidth}>;
  for (var j = 0u; j < N; j = j + 1u) {
    let p = attnSaved[probs_row + j] / total;
    attnSaved[probs_row + j] = p;
    for (var e = 0u; e < DH; e = e + 1u) { out[e] = fma(p, qkv[qkv_at(b * N + j, 2u, h, e)], out[e]); }
  }
  for (var e = 0u; e < DH; e = e + 1u) { attn[(b * N + i) * WIDTH + h * DH + e] = out[e]; }
}`;
  const rows = shape.batch * shape.heads * shape.tokens;
  return [{ label: "attention.forward", code, bindings, grid: grid1d(Math.ceil(rows / THREADS)) }];
}

export function attentionBackward(shape: AttentionShape): KernelSource[] {
  const rows = shape.batch * shape.heads * shape.tokens;
  const grid = grid1d(Math.ceil(rows / THREADS));
  // Per query row i: dP = dO·vᵀ, dS = P ⊙ (dP − Σ dP ⊙ P), dq = scale · dS·k.
  const queryBindings = [read("dAttn"), read("qkv"), read("attnSaved"), write("attnScratch"), write("dQkv")];
  const queryCode = `
${declareBindings(queryBindings)}
${prelude(shape)}
  var d_out: array<f32, ${shape.headWidth}>;
  for (var e = 0u; e < DH; e = e + 1u) { d_out[e] = dAttn[(b * N + i) * WIDTH + h * DH + e]; }
  var row_dot = 0.0;
  for (var j = 0u; j < N; j = j + 1u) {
    var dp = 0.0;
    for (var e = 0u; e < DH; e = e + 1u) { dp = fma(d_out[e], qkv[qkv_at(b * N + j, 2u, h, e)], dp); }
    attnScratch[probs_row + j] = dp;
    row_dot = fma(dp, attnSaved[probs_row + j], row_dot);
  }
  var dq: array<f32, ${shape.headWidth}>;
  for (var j = 0u; j < N; j = j + 1u) {
    let ds = attnSaved[probs_row + j] * (attnScratch[probs_row + j] - row_dot);
    attnScratch[probs_row + j] = ds;
    for (var e = 0u; e < DH; e = e + 1u) { dq[e] = fma(ds, qkv[qkv_at(b * N + j, 1u, h, e)], dq[e]); }
  }
  for (var e = 0u; e < DH; e = e + 1u) { dQkv[qkv_at(b * N + i, 0u, h, e)] = dq[e] * SCALE; }
}`;
  // Per key row j (named i in the prelude): dk = scale · Σ_i dS_ij q_i, dv = Σ_i P_ij dO_i.
  const keyBindings = [read("dAttn"), read("qkv"), read("attnSaved"), read("attnScratch"), write("dQkv")];
  const keyCode = `
${declareBindings(keyBindings)}
${prelude(shape)}
  let j = i;
  var dk: array<f32, ${shape.headWidth}>;
  var dv: array<f32, ${shape.headWidth}>;
  for (var row = 0u; row < N; row = row + 1u) {
    let at = bh * N * N + row * N + j;
    let ds = attnScratch[at];
    let p = attnSaved[at];
    for (var e = 0u; e < DH; e = e + 1u) {
      dk[e] = fma(ds, qkv[qkv_at(b * N + row, 0u, h, e)], dk[e]);
      dv[e] = fma(p, dAttn[(b * N + row) * WIDTH + h * DH + e], dv[e]);
    }
  }
  for (var e = 0u; e < DH; e = e + 1u) {
    dQkv[qkv_at(b * N + j, 1u, h, e)] = dk[e] * SCALE;
    dQkv[qkv_at(b * N + j, 2u, h, e)] = dv[e];
  }
}`;
  return [
    { label: "attention.backward.queries", code: queryCode, bindings: queryBindings, grid },
    { label: "attention.backward.keys", code: keyCode, bindings: keyBindings, grid },
  ];
}
