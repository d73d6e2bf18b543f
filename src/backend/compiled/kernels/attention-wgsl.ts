import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings } from "./wgsl.ts";

/**
 * WGSL generation the attention kernels share (attention.ts is the public side): shape constants,
 * tile sizes within the workgroup-memory limit, tile loads, binding declarations.
 */

/** One attention layer: B images of N tokens, H heads of width dh. */
export interface AttentionShape {
  readonly batch: number;
  readonly tokens: number;
  readonly heads: number;
  readonly headWidth: number;
}

/** Threads per workgroup. */
const THREADS = 64;
/** WebGPU's portable minimum of maxComputeWorkgroupStorageSize: every kernel stays within it. */
export const ATTENTION_WORKGROUP_BYTES_LIMIT = 16384;

/**
 * Rows a workgroup owns (`own`) and rows of the tile it streams (`streamed`), the largest powers
 * of two up to 16 whose workgroup arrays fit the limit; `bytes` maps them to the kernel's need.
 */
export interface Tiles {
  readonly own: number;
  readonly streamed: number;
}

export function chooseTiles(bytes: (tiles: Tiles) => number): Tiles {
  let own = 16;
  let streamed = 16;
  while (bytes({ own, streamed }) > ATTENTION_WORKGROUP_BYTES_LIMIT) {
    if (streamed >= own && streamed > 1) streamed /= 2;
    else if (own > 1) own /= 2;
    else throw new Error("attention: one head row does not fit in workgroup memory");
  }
  return { own, streamed };
}

/** Floats per vector: head rows move as vec4 when dh allows, else as single floats. */
const lanesOf = (headWidth: number) => (headWidth % 4 === 0 ? 4 : 1);

/** Workgroup bytes: `vectorRows` head rows (padded by one vector, see ROW), `scalars` floats. */
export const arrayBytes = (shape: AttentionShape, vectorRows: number, scalars: number) =>
  4 * (vectorRows * (shape.headWidth + lanesOf(shape.headWidth)) + scalars);

/** Buffers holding head rows are arrays of vec4 when dh allows, else of f32. */
const VECTOR_BUFFERS = new Set(["qkv", "attn", "dAttn", "dQkv"]);

/** Constants and helpers every attention kernel shares; DV counts vectors in a head row. */
function prelude(shape: AttentionShape, tiles: Tiles, bindings: readonly KernelBinding[]): string {
  const { batch, tokens, heads, headWidth } = shape;
  for (const [name, value] of Object.entries(shape))
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`attention: ${name} must be a positive integer`);
  const lanes = lanesOf(headWidth);
  const ownElements = tiles.own * (headWidth / lanes);
  return `
alias V = ${lanes === 4 ? "vec4<f32>" : "f32"};
const B: u32 = ${batch}u;
const N: u32 = ${tokens}u;
const H: u32 = ${heads}u;
const DV: u32 = ${headWidth / lanes}u;
// Workgroup tiles pad each head row by one vector: threads reading different rows at the same
// column then hit different memory banks (rows of 16 vec4 would all start in bank 0).
const ROW: u32 = DV + 1u;
const QKV_ROW: u32 = ${(3 * heads * headWidth) / lanes}u;
const OUT_ROW: u32 = ${(heads * headWidth) / lanes}u;
const SCALE: f32 = ${1 / Math.sqrt(headWidth)};
const T: u32 = ${THREADS}u;
const OWN: u32 = ${tiles.own}u;
const STREAMED: u32 = ${tiles.streamed}u;
const STREAMED_TILES: u32 = ${Math.ceil(tokens / tiles.streamed)}u;
// Vectors of the owned rows each thread accumulates.
const PER_THREAD: u32 = ${Math.ceil(ownElements / THREADS)}u;
// Stands in for -inf (a masked score) without producing infinities.
const LOW: f32 = -3.0e38;
${declareBindings(bindings, (name) => (VECTOR_BUFFERS.has(name) ? "V" : "f32"))}

fn vdot(a: V, b: V) -> f32 { return ${lanes === 4 ? "dot(a, b)" : "a * b"}; }
// Index of head h's first vector in token row (b, token) of qkv; k and v follow at +H·DV, +2·H·DV.
fn qkv_at(b: u32, token: u32, h: u32) -> u32 { return (b * N + token) * QKV_ROW + h * DV; }
fn out_at(b: u32, token: u32, h: u32) -> u32 { return (b * N + token) * OUT_ROW + h * DV; }
fn row_at(b: u32, h: u32, token: u32) -> u32 { return (b * H + h) * N + token; }
`;
}

/**
 * One kernel: a workgroup of 64 threads per (block of OWN rows, head, image), grid
 * [⌈N/OWN⌉, H, B]; `body` runs in main with first (the block's first row), h, b, tid in scope.
 */
export function attentionKernel(
  label: string,
  shape: AttentionShape,
  bytes: (tiles: Tiles) => number,
  bindings: readonly KernelBinding[],
  workgroupArrays: string,
  body: string,
): KernelSource {
  const tiles = chooseTiles(bytes);
  const grid = [Math.ceil(shape.tokens / tiles.own), shape.heads, shape.batch] as const;
  const code = `${prelude(shape, tiles, bindings)}${workgroupArrays}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let first = wg.x * OWN;
  let h = wg.y;
  let b = wg.z;
  // Loop bounds pass through b (always < B) so that no compiler can fold them: fully unrolled,
  // these nested loops took lavapipe's LLVM 10–60 s per kernel to compile; about 1 s this way.
  let live = b < B;
  let tiles = select(0u, STREAMED_TILES, live);
  let streamed = select(0u, STREAMED, live);
  let head_vectors = select(0u, DV, live);
  let per_thread = select(0u, PER_THREAD, live);${body}
}
`;
  const { batch, tokens, heads, headWidth } = shape;
  return { label: `${label} b${batch} n${tokens} h${heads} dh${headWidth}`, code, bindings, grid };
}

/** Fills `tile` with `rows` head rows from token `start` on, zeros past N; `read` sees token, col. */
export function loadTile(tile: string, rows: string, start: string, read: string): string {
  return `
  for (var e = tid; e < ${rows} * DV; e += T) {
    let token = ${start} + e / DV;
    let col = e % DV;
    var value = V(0.0);
    if (token < N) { value = ${read}; }
    ${tile}[(e / DV) * ROW + col] = value;
  }`;
}

/** Expressions reading one vector of a head row: q (already scaled by 1/√dh), k, v, dO. */
export const QUERY = "qkv[qkv_at(b, token, h) + col] * SCALE";
export const KEY = "qkv[qkv_at(b, token, h) + H * DV + col]";
export const VALUE = "qkv[qkv_at(b, token, h) + 2u * H * DV + col]";
export const OUT_GRAD = "dAttn[out_at(b, token, h) + col]";
