/**
 * Fused multi-head attention for the compiled step, flash-style: the forward pass streams key
 * tiles through workgroup memory with an online softmax and saves only each query row's
 * log-sum-exp; the backward pass recomputes the probabilities from it. One dispatch forward,
 * two backward (dQ, then dK and dV), no atomics. Semantics are src/model/block.ts's:
 * scores = (q/√dh)·kᵀ, probs = softmax over keys, out = probs·v, heads merged head-major.
 */
import type { KernelBinding, KernelSource } from "../kernel.ts";
import {
  type AttentionShape,
  arrayBytes,
  attentionKernel,
  chooseTiles,
  KEY,
  loadTile,
  OUT_GRAD,
  QUERY,
  type Tiles,
  VALUE,
} from "./attention-wgsl.ts";

export { ATTENTION_WORKGROUP_BYTES_LIMIT, type AttentionShape } from "./attention-wgsl.ts";

/** Log-sum-exp of every query row's scores, [B, H, N]. */
export function attentionSavedFloats(shape: AttentionShape): number {
  return shape.batch * shape.heads * shape.tokens;
}

/** D = rowsum(dO ∘ O) per query row, [B, H, N]: written by the dQ kernel, read by dK/dV. */
export function attentionScratchFloats(shape: AttentionShape): number {
  return shape.batch * shape.heads * shape.tokens;
}

// Each kernel's var<workgroup> arrays: head-row tiles (owned and streamed rows) and scalars.
const forwardBytes = (shape: AttentionShape) => (t: Tiles) =>
  arrayBytes(shape, t.own + 2 * t.streamed, t.own * t.streamed + 3 * t.own);
const dQueryBytes = (shape: AttentionShape) => (t: Tiles) =>
  arrayBytes(shape, 2 * t.own + 2 * t.streamed, t.own * t.streamed + 2 * t.own);
const dKeyValueBytes = (shape: AttentionShape) => (t: Tiles) =>
  arrayBytes(shape, 2 * t.own + 2 * t.streamed, 2 * t.own * t.streamed + 2 * t.streamed);

/** Workgroup memory each kernel uses, in bytes, in dispatch order (forward, dQ, dK/dV). */
export function attentionWorkgroupBytes(shape: AttentionShape): readonly number[] {
  return [forwardBytes(shape), dQueryBytes(shape), dKeyValueBytes(shape)].map((bytes) =>
    bytes(chooseTiles(bytes)),
  );
}

/** One dispatch: out and the rows' log-sum-exp; a workgroup owns OWN query rows of one (b, h). */
export function attentionForward(shape: AttentionShape): KernelSource[] {
  const bindings: KernelBinding[] = [
    { name: "qkv", access: "read" },
    { name: "attn", access: "read_write" },
    { name: "attnSaved", access: "read_write" },
  ];
  const body = `
  ${loadTile("q_tile", "OWN", "first", QUERY)}
  if (tid < OWN) { row_max[tid] = LOW; row_sum[tid] = 0.0; }
  var acc: array<V, PER_THREAD>;
  for (var tile = 0u; tile < tiles; tile++) {
    let keys = tile * STREAMED;
    workgroupBarrier(); // the previous tile is fully used
    ${loadTile("k_tile", "STREAMED", "keys", KEY)}
    ${loadTile("v_tile", "STREAMED", "keys", VALUE)}
    workgroupBarrier();
    for (var s = tid; s < OWN * STREAMED; s += T) {
      let row = s / STREAMED;
      let j = s % STREAMED;
      var score = LOW;
      if (keys + j < N) {
        score = 0.0;
        for (var c = 0u; c < head_vectors; c++) { score += vdot(q_tile[row * ROW + c], k_tile[j * ROW + c]); }
      }
      p_tile[s] = score;
    }
    workgroupBarrier();
    if (tid < OWN) { // online softmax: rescale what was summed under the old maximum
      let old = row_max[tid];
      var top = old;
      for (var j = 0u; j < streamed; j++) { top = max(top, p_tile[tid * STREAMED + j]); }
      var sum = 0.0;
      for (var j = 0u; j < streamed; j++) {
        let p = exp(p_tile[tid * STREAMED + j] - top);
        p_tile[tid * STREAMED + j] = p;
        sum += p;
      }
      let rescale = exp(old - top);
      row_rescale[tid] = rescale;
      row_sum[tid] = row_sum[tid] * rescale + sum;
      row_max[tid] = top;
    }
    workgroupBarrier();
    for (var i = 0u; i < per_thread; i++) {
      let e = tid + i * T;
      if (e < OWN * DV) {
        let row = e / DV;
        let c = e % DV;
        var value = acc[i] * row_rescale[row];
        for (var j = 0u; j < streamed; j++) { value += p_tile[row * STREAMED + j] * v_tile[j * ROW + c]; }
        acc[i] = value;
      }
    }
  }
  for (var i = 0u; i < per_thread; i++) {
    let e = tid + i * T;
    let token = first + e / DV;
    if (e < OWN * DV && token < N) { attn[out_at(b, token, h) + e % DV] = acc[i] / row_sum[e / DV]; }
  }
  if (tid < OWN && first + tid < N) {
    attnSaved[row_at(b, h, first + tid)] = row_max[tid] + log(row_sum[tid]);
  }`;
  const arrays = `
var<workgroup> q_tile: array<V, OWN * ROW>;
var<workgroup> k_tile: array<V, STREAMED * ROW>;
var<workgroup> v_tile: array<V, STREAMED * ROW>;
var<workgroup> p_tile: array<f32, OWN * STREAMED>;
var<workgroup> row_max: array<f32, OWN>;
var<workgroup> row_sum: array<f32, OWN>;
var<workgroup> row_rescale: array<f32, OWN>;`;
  return [attentionKernel("attention forward", shape, forwardBytes(shape), bindings, arrays, body)];
}

/**
 * Two dispatches: dQ (and D = rowsum(dO ∘ O), kept in attnScratch), then dK and dV, each
 * recomputing the probabilities from the saved log-sum-exp; dS = P ∘ (dP − D), dP = dO·vᵀ.
 */
export function attentionBackward(shape: AttentionShape): KernelSource[] {
  return [dQueryKernel(shape), dKeyValueKernel(shape)];
}

/** A workgroup owns OWN query rows and streams key tiles: dQ = dS·k / √dh. */
function dQueryKernel(shape: AttentionShape): KernelSource {
  const bindings: KernelBinding[] = [
    { name: "qkv", access: "read" },
    { name: "attn", access: "read" },
    { name: "dAttn", access: "read" },
    { name: "attnSaved", access: "read" },
    { name: "attnScratch", access: "read_write" },
    { name: "dQkv", access: "read_write" },
  ];
  const arrays = `
var<workgroup> q_tile: array<V, OWN * ROW>;
var<workgroup> do_tile: array<V, OWN * ROW>;
var<workgroup> k_tile: array<V, STREAMED * ROW>;
var<workgroup> v_tile: array<V, STREAMED * ROW>;
var<workgroup> ds_tile: array<f32, OWN * STREAMED>;
var<workgroup> row_lse: array<f32, OWN>;
var<workgroup> row_d: array<f32, OWN>;`;
  const body = `
  ${loadTile("q_tile", "OWN", "first", QUERY)}
  ${loadTile("do_tile", "OWN", "first", OUT_GRAD)}
  workgroupBarrier();
  if (tid < OWN) {
    let token = first + tid;
    var d = 0.0;
    var lse = 0.0;
    if (token < N) {
      for (var c = 0u; c < head_vectors; c++) { d += vdot(do_tile[tid * ROW + c], attn[out_at(b, token, h) + c]); }
      lse = attnSaved[row_at(b, h, token)];
      attnScratch[row_at(b, h, token)] = d;
    }
    row_d[tid] = d;
    row_lse[tid] = lse;
  }
  var acc: array<V, PER_THREAD>;
  for (var tile = 0u; tile < tiles; tile++) {
    let keys = tile * STREAMED;
    workgroupBarrier();
    ${loadTile("k_tile", "STREAMED", "keys", KEY)}
    ${loadTile("v_tile", "STREAMED", "keys", VALUE)}
    workgroupBarrier();
    for (var s = tid; s < OWN * STREAMED; s += T) {
      let row = s / STREAMED;
      let j = s % STREAMED;
      var ds = 0.0;
      if (keys + j < N && first + row < N) {
        var score = 0.0;
        var dp = 0.0;
        for (var c = 0u; c < head_vectors; c++) {
          score += vdot(q_tile[row * ROW + c], k_tile[j * ROW + c]);
          dp += vdot(do_tile[row * ROW + c], v_tile[j * ROW + c]);
        }
        ds = exp(score - row_lse[row]) * (dp - row_d[row]);
      }
      ds_tile[s] = ds;
    }
    workgroupBarrier();
    for (var i = 0u; i < per_thread; i++) {
      let e = tid + i * T;
      if (e < OWN * DV) {
        let row = e / DV;
        let c = e % DV;
        var value = acc[i];
        for (var j = 0u; j < streamed; j++) { value += ds_tile[row * STREAMED + j] * k_tile[j * ROW + c]; }
        acc[i] = value;
      }
    }
  }
  for (var i = 0u; i < per_thread; i++) {
    let e = tid + i * T;
    let token = first + e / DV;
    if (e < OWN * DV && token < N) { dQkv[qkv_at(b, token, h) + e % DV] = acc[i] * SCALE; }
  }`;
  return attentionKernel("attention dQ", shape, dQueryBytes(shape), bindings, arrays, body);
}

/** A workgroup owns OWN keys and streams query tiles: dV = Pᵀ·dO, dK = dSᵀ·(q/√dh). */
function dKeyValueKernel(shape: AttentionShape): KernelSource {
  const bindings: KernelBinding[] = [
    { name: "qkv", access: "read" },
    { name: "dAttn", access: "read" },
    { name: "attnSaved", access: "read" },
    { name: "attnScratch", access: "read" },
    { name: "dQkv", access: "read_write" },
  ];
  const arrays = `
var<workgroup> k_tile: array<V, OWN * ROW>;
var<workgroup> v_tile: array<V, OWN * ROW>;
var<workgroup> q_tile: array<V, STREAMED * ROW>;
var<workgroup> do_tile: array<V, STREAMED * ROW>;
var<workgroup> p_tile: array<f32, STREAMED * OWN>;
var<workgroup> ds_tile: array<f32, STREAMED * OWN>;
var<workgroup> tile_lse: array<f32, STREAMED>;
var<workgroup> tile_d: array<f32, STREAMED>;`;
  const body = `
  ${loadTile("k_tile", "OWN", "first", KEY)}
  ${loadTile("v_tile", "OWN", "first", VALUE)}
  var dk: array<V, PER_THREAD>;
  var dv: array<V, PER_THREAD>;
  for (var tile = 0u; tile < tiles; tile++) {
    let queries = tile * STREAMED;
    workgroupBarrier();
    ${loadTile("q_tile", "STREAMED", "queries", QUERY)}
    ${loadTile("do_tile", "STREAMED", "queries", OUT_GRAD)}
    for (var i = tid; i < STREAMED; i += T) {
      let token = queries + i;
      var lse = 0.0;
      var d = 0.0;
      if (token < N) {
        lse = attnSaved[row_at(b, h, token)];
        d = attnScratch[row_at(b, h, token)];
      }
      tile_lse[i] = lse;
      tile_d[i] = d;
    }
    workgroupBarrier();
    for (var s = tid; s < STREAMED * OWN; s += T) {
      let i = s / OWN; // query
      let j = s % OWN; // key
      var p = 0.0;
      var ds = 0.0;
      if (queries + i < N && first + j < N) {
        var score = 0.0;
        var dp = 0.0;
        for (var c = 0u; c < head_vectors; c++) {
          score += vdot(q_tile[i * ROW + c], k_tile[j * ROW + c]);
          dp += vdot(do_tile[i * ROW + c], v_tile[j * ROW + c]);
        }
        p = exp(score - tile_lse[i]);
        ds = p * (dp - tile_d[i]);
      }
      p_tile[s] = p;
      ds_tile[s] = ds;
    }
    workgroupBarrier();
    for (var k = 0u; k < per_thread; k++) {
      let e = tid + k * T;
      if (e < OWN * DV) {
        let j = e / DV;
        let c = e % DV;
        var key_grad = dk[k];
        var value_grad = dv[k];
        for (var i = 0u; i < streamed; i++) {
          key_grad += ds_tile[i * OWN + j] * q_tile[i * ROW + c];
          value_grad += p_tile[i * OWN + j] * do_tile[i * ROW + c];
        }
        dk[k] = key_grad;
        dv[k] = value_grad;
      }
    }
  }
  for (var k = 0u; k < per_thread; k++) {
    let e = tid + k * T;
    let token = first + e / DV;
    if (e < OWN * DV && token < N) {
      let at = qkv_at(b, token, h) + e % DV;
      dQkv[at + H * DV] = dk[k];
      dQkv[at + 2u * H * DV] = dv[k];
    }
  }`;
  return attentionKernel("attention dK dV", shape, dKeyValueBytes(shape), bindings, arrays, body);
}
