import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, dim, GELU_FUNCTIONS } from "./wgsl.ts";

/**
 * The kernel family a plan's matmuls come from, chosen once per plan by what the adapter offers
 * (precision.ts): "fp32" (f32 tiles, f32 FMAs), "f16" (A and B rounded to f16 as they enter
 * workgroup memory, products accumulated in f32: the numerics of tensor-core mixed precision on
 * any adapter with shader-f16), "subgroupMatrix" (the same f16 tiles fed to the adapter's
 * subgroup-matrix units — tensor cores on NVIDIA — with f32 accumulators). Both f16 families flag
 * any input beyond f16's range in the step's "overflow" word, which the loss scaling reads.
 */
export type MatmulFamily =
  | { readonly kind: "fp32" }
  | { readonly kind: "f16" }
  | {
      readonly kind: "subgroupMatrix";
      /** One f16→f32 configuration of adapter.info.subgroupMatrixConfigs: C (M×N) += A (M×K)·B (K×N). */
      readonly m: number;
      readonly n: number;
      readonly k: number;
      /** The adapter's largest subgroup: the workgroup's size (Dawn requires a multiple of it). */
      readonly subgroupSize: number;
    };

export const FP32_MATMULS: MatmulFamily = { kind: "fp32" };

/**
 * Tiled matmul C = A·B (64×64 output tile per workgroup, 16×16 threads with 4×4 outputs each,
 * 16-deep K slices through workgroup memory), specialised by shape and storage order and closed by
 * an epilogue that fuses the element-wise work around it: bias, GELU, a residual add (with ReZero
 * and drop-path scaling), the patch-embedding scatter, GELU's gradient, or a weight gradient with
 * its bias gradient (a virtual row of ones in Aᵀ) split over the reduced axis. Shapes are
 * run-time values (`dims`), so each storage order and epilogue is one pipeline for every shape.
 */
export interface MatmulShape {
  /** Rows of C. */
  readonly rows: number;
  /** Columns of C. */
  readonly cols: number;
  /** The reduced axis. */
  readonly depth: number;
  /** A(i, r) = a[i·depth + r] ("rowMajor") or a[r·rows + i] ("transposed": A stored [depth, rows]). */
  readonly a: "rowMajor" | "transposed";
  /** B(r, j) = b[r·cols + j] ("rowMajor") or b[j·depth + r] ("transposed": B stored [cols, depth]). */
  readonly b: "rowMajor" | "transposed";
}

export type MatmulEpilogue =
  /** out = C (+ bias) */
  | { readonly kind: "store"; readonly bias: boolean }
  /** pre = C + bias; out = GELU(pre) */
  | { readonly kind: "gelu" }
  /** out = residual + rezero · keep[row / tokens] · (C + bias); branch = C + bias when saved. */
  | {
      readonly kind: "residual";
      readonly tokens: number;
      readonly keep: boolean;
      readonly rezero: boolean;
      readonly saveBranch: boolean;
    }
  /** Patch rows b·g² + t → stream rows b·tokens + 1 + t: out = C + bias + pos[1 + t]. */
  | { readonly kind: "embed"; readonly tokens: number }
  /** out = C · GELU′(pre) */
  | { readonly kind: "geluGrad" }
  /**
   * Weight gradient: C (rows × cols) to "out" and the column sums of B (A's virtual ones row) to
   * "biasGrad"; with splits > 1 every slice of the reduced axis writes its own partial sums to
   * "partials" ([splits, rows + 1, cols]) and `sumPartials` adds them up.
   */
  | { readonly kind: "weightGrad"; readonly splits: number };

const TILE = 64;
const SLICE = 16;

function bindingsOf(epilogue: MatmulEpilogue, family: MatmulFamily): KernelBinding[] {
  const read = (name: string): KernelBinding => ({ name, access: "read" });
  const write = (name: string): KernelBinding => ({ name, access: "read_write" });
  const list: KernelBinding[] = [
    { name: "dims", access: "uniform" },
    read("a"),
    read("b"),
    ...(family.kind === "fp32" ? [] : [write("overflow")]),
  ];
  switch (epilogue.kind) {
    case "store":
      return [...list, ...(epilogue.bias ? [read("bias")] : []), write("out")];
    case "gelu":
      return [...list, read("bias"), write("pre"), write("out")];
    case "residual":
      return [
        ...list,
        read("bias"),
        read("residual"),
        ...(epilogue.keep ? [read("keep")] : []),
        ...(epilogue.rezero ? [read("rezero")] : []),
        ...(epilogue.saveBranch ? [write("branch")] : []),
        write("out"),
      ];
    case "embed":
      return [...list, read("bias"), read("pos"), write("out")];
    case "geluGrad":
      return [...list, read("pre"), write("out")];
    case "weightGrad":
      return epilogue.splits > 1 ? [...list, write("partials")] : [...list, write("out"), write("biasGrad")];
  }
}

/** dims: rows, cols, depth, chunk, tokens. */
const DIMS = { rows: 0, cols: 1, depth: 2, chunk: 3, tokens: 4 } as const;

function epilogueCode(epilogue: MatmulEpilogue): string {
  const at = "i * COLS + j";
  switch (epilogue.kind) {
    case "store":
      return `out[${at}] = value${epilogue.bias ? " + bias[j]" : ""};`;
    case "gelu":
      return `let x = value + bias[j]; pre[${at}] = x; out[${at}] = x * normal_cdf(x);`;
    case "residual": {
      const scale = [epilogue.keep ? "keep[i / TOKENS]" : "", epilogue.rezero ? "rezero[0]" : ""].filter(
        Boolean,
      );
      return [
        "let branch_value = value + bias[j];",
        epilogue.saveBranch ? `branch[${at}] = branch_value;` : "",
        `out[${at}] = residual[${at}] + ${scale.length ? `${scale.join(" * ")} * ` : ""}branch_value;`,
      ].join(" ");
    }
    case "embed":
      return `let t = i % (TOKENS - 1u); let row = (i / (TOKENS - 1u)) * TOKENS + 1u + t;
        out[row * COLS + j] = value + bias[j] + pos[(1u + t) * COLS + j];`;
    case "geluGrad":
      return `let x = pre[${at}]; out[${at}] = value * (normal_cdf(x) + x * normal_pdf(x));`;
    case "weightGrad":
      if (epilogue.splits > 1) return "partials[(wg.z * (ROWS + 1u) + i) * COLS + j] = value;";
      return `if (i < ROWS) { out[${at}] = value; } else { biasGrad[j] = value; }`;
  }
}

/** f16's largest finite value, 65504, as f32 bits: an input above it (or inf/NaN) overflows. */
const F16_MAX_BITS = "0x477fe000u";

/** Rounds to f16, flagging out-of-range inputs (integer compare: immune to fast-math NaN folding). */
const TO_HALF = `
fn to_half(x: f32) -> f16 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > ${F16_MAX_BITS}) {
    atomicOr(&overflow[0], 1u);
    return f16(0.0);
  }
  return f16(x);
}`;

export function matmul(
  label: string,
  shape: MatmulShape,
  epilogue: MatmulEpilogue,
  family: MatmulFamily = FP32_MATMULS,
): KernelSource {
  const { rows, cols, depth } = shape;
  const onesRow = epilogue.kind === "weightGrad";
  if (onesRow && shape.a !== "transposed") throw new Error(`${label}: a weight gradient reads Aᵀ`);
  const outRows = rows + (onesRow ? 1 : 0);
  const splits = epilogue.kind === "weightGrad" ? Math.max(1, epilogue.splits) : 1;
  const tile =
    family.kind === "subgroupMatrix" ? subgroupTile(family) : { rows: TILE, cols: TILE, slice: SLICE };
  const chunk = Math.ceil(depth / splits / tile.slice) * tile.slice;
  const bindings = bindingsOf(epilogue, family);
  const body =
    family.kind === "subgroupMatrix"
      ? subgroupMatrixBody(shape, onesRow, family)
      : tiledBody(shape, onesRow, family);
  const code = `
${family.kind === "fp32" ? "" : "enable f16;"}
${family.kind === "subgroupMatrix" ? "enable chromium_experimental_subgroup_matrix;" : ""}
${declareBindings(bindings, (name) => (name === "overflow" ? "atomic<u32>" : "f32"))}
${family.kind === "fp32" ? "" : TO_HALF}
${epilogue.kind === "gelu" || epilogue.kind === "geluGrad" ? GELU_FUNCTIONS : ""}
${body.declarations}
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let ROWS = ${dim(DIMS.rows)};
  let COLS = ${dim(DIMS.cols)};
  let DEPTH = ${dim(DIMS.depth)};
  let CHUNK = ${dim(DIMS.chunk)};
  let TOKENS = ${dim(DIMS.tokens)};
  let OUT_ROWS = ROWS${onesRow ? " + 1u" : ""};
  let row0 = wg.y * ${tile.rows}u;
  let col0 = wg.x * ${tile.cols}u;
  let r_begin = wg.z * CHUNK;
  let r_end = min(r_begin + CHUNK, DEPTH);
  ${body.main(epilogueCode(epilogue))}
}`;
  const tokens = epilogue.kind === "residual" || epilogue.kind === "embed" ? epilogue.tokens : 1;
  return {
    label,
    code,
    bindings,
    grid: [Math.ceil(cols / tile.cols), Math.ceil(outRows / tile.rows), splits],
    constants: [rows, cols, depth, chunk, tokens],
  };
}

/** WGSL reading A(i, r) and B(r, j) from storage in the shape's orders. */
function readers(shape: MatmulShape): { a: string; b: string } {
  return {
    a: shape.a === "rowMajor" ? "a[i * DEPTH + r]" : "a[r * ROWS + i]",
    b: shape.b === "rowMajor" ? "b[r * COLS + j]" : "b[j * DEPTH + r]",
  };
}

interface KernelBody {
  /** Workgroup arrays and the entry point's attributes. */
  readonly declarations: string;
  /** The entry point's body after the shared lets, given the epilogue's code for (i, j, value). */
  readonly main: (epilogue: string) => string;
}

/** 64×64 tile, 16×16 threads with 4×4 outputs each; f16 tiles (f32 FMAs) in the f16 family. */
function tiledBody(shape: MatmulShape, onesRow: boolean, family: MatmulFamily): KernelBody {
  const half = family.kind !== "fp32";
  const element = half ? "f16" : "f32";
  const store = (value: string) => (half ? `to_half(${value})` : value);
  const widen = (value: string) => (half ? `f32(${value})` : value);
  // A tile [SLICE][TILE] (r, i) and B tile [SLICE][TILE] (r, j); loads walk the contiguous axis.
  const loadA =
    shape.a === "rowMajor"
      ? "let kk = e % 16u; let ii = e / 16u; let i = row0 + ii; let r = r0 + kk;"
      : "let ii = e % 64u; let kk = e / 64u; let i = row0 + ii; let r = r0 + kk;";
  const loadB =
    shape.b === "rowMajor"
      ? "let jj = e % 64u; let kk = e / 64u; let j = col0 + jj; let r = r0 + kk;"
      : "let kk = e % 16u; let jj = e / 16u; let j = col0 + jj; let r = r0 + kk;";
  const read = readers(shape);
  return {
    declarations: `
var<workgroup> tile_a: array<${element}, ${SLICE * TILE}>;
var<workgroup> tile_b: array<${element}, ${SLICE * TILE}>;
@compute @workgroup_size(16, 16)`,
    main: (epilogue) => `
  var acc: array<f32, 16>;
  for (var r0 = r_begin; r0 < r_end; r0 = r0 + ${SLICE}u) {
    for (var step = 0u; step < 4u; step = step + 1u) {
      let e = lane + step * 256u;
      {
        ${loadA}
        var v = 0.0;
        if (i < ROWS && r < r_end) { v = ${read.a}; }${onesRow ? " else if (i == ROWS && r < r_end) { v = 1.0; }" : ""}
        tile_a[kk * ${TILE}u + ii] = ${store("v")};
      }
      {
        ${loadB}
        var v = 0.0;
        if (j < COLS && r < r_end) { v = ${read.b}; }
        tile_b[kk * ${TILE}u + jj] = ${store("v")};
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${SLICE}u; kk = kk + 1u) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var u = 0u; u < 4u; u = u + 1u) {
        av[u] = ${widen(`tile_a[kk * ${TILE}u + lid.y + u * 16u]`)};
        bv[u] = ${widen(`tile_b[kk * ${TILE}u + lid.x + u * 16u]`)};
      }
      for (var u = 0u; u < 4u; u = u + 1u) {
        for (var w = 0u; w < 4u; w = w + 1u) {
          acc[u * 4u + w] = fma(av[u], bv[w], acc[u * 4u + w]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var u = 0u; u < 4u; u = u + 1u) {
    let i = row0 + lid.y + u * 16u;
    if (i >= OUT_ROWS) { continue; }
    for (var w = 0u; w < 4u; w = w + 1u) {
      let j = col0 + lid.x + w * 16u;
      if (j >= COLS) { continue; }
      let value = acc[u * 4u + w];
      ${epilogue}
    }
  }`,
  };
}

/** Subgroup matrices per side of a subgroup-matrix workgroup's output tile (4 × 4 accumulators). */
const SUBGROUP_TILES = 4;
/** Reduced-axis depth staged per barrier in the subgroup-matrix kernels. */
const SUBGROUP_SLICE = 32;

/** The (rows, columns, depth) a subgroup-matrix workgroup covers per barrier. */
function subgroupTile(family: Extract<MatmulFamily, { kind: "subgroupMatrix" }>) {
  return {
    rows: SUBGROUP_TILES * family.m,
    cols: SUBGROUP_TILES * family.n,
    slice: Math.max(SUBGROUP_SLICE, family.k),
  };
}

/**
 * A (4M)×(4N) output tile per workgroup from 4×4 subgroup matrices: f16 tiles of A ([4M][S],
 * row-major) and B ([S][4N]) staged through workgroup memory, f32 accumulators stored a row of
 * matrices at a time to a workgroup array for the shared epilogue. The workgroup is one subgroup of the adapter's largest
 * size; where the device runs it as several smaller subgroups each computes the same tile (same
 * values stored), which is correct and only wasteful — NVIDIA's subgroups are always 32 wide.
 */
function subgroupMatrixBody(
  shape: MatmulShape,
  onesRow: boolean,
  family: Extract<MatmulFamily, { kind: "subgroupMatrix" }>,
): KernelBody {
  const { m, n, k, subgroupSize: threads } = family;
  const { rows: tileRows, cols: tileCols, slice } = subgroupTile(family);
  if (slice % k !== 0) throw new Error(`subgroup matrix: K=${k} does not divide the ${slice}-deep slice`);
  const read = readers(shape);
  const left = `subgroup_matrix_left<f16, ${k}, ${m}>`;
  const right = `subgroup_matrix_right<f16, ${n}, ${k}>`;
  const result = `subgroup_matrix_result<f32, ${n}, ${m}>`;
  const range = Array.from({ length: SUBGROUP_TILES }, (_, i) => i);
  const pairs = range.flatMap((x) => range.map((y) => [x, y] as const));
  const loads = range
    .map(
      (x) =>
        `let a${x} = subgroupMatrixLoad<${left}, row_major>(&tile_a, ${x * m * slice}u + kk, ${slice}u);
      let b${x} = subgroupMatrixLoad<${right}, row_major>(&tile_b, kk * ${tileCols}u + ${x * n}u, ${tileCols}u);`,
    )
    .join("\n      ");
  const products = pairs
    .map(([x, y]) => `acc${x}${y} = subgroupMatrixMultiplyAccumulate(a${x}, b${y}, acc${x}${y});`)
    .join("\n      ");
  // The accumulators leave one row of matrices at a time through a [M][4N] f32 tile (4 KiB at
  // 16×16), which keeps the kernel within WebGPU's default 16 KiB of workgroup memory.
  const epilogues = (epilogue: string) =>
    range
      .map(
        (x) => `${range
          .map((y) => `subgroupMatrixStore<row_major>(&tile_c, ${y * n}u, acc${x}${y}, ${tileCols}u);`)
          .join("\n  ")}
  workgroupBarrier();
  for (var e = lane; e < ${m * tileCols}u; e = e + ${threads}u) {
    let i = row0 + ${x * m}u + e / ${tileCols}u;
    let j = col0 + e % ${tileCols}u;
    if (i >= OUT_ROWS || j >= COLS) { continue; }
    let value = tile_c[e];
    ${epilogue}
  }
  workgroupBarrier();`,
      )
      .join("\n  ");
  const accumulators = pairs.map(([x, y]) => `var acc${x}${y} = ${result}();`).join("\n  ");
  return {
    declarations: `
var<workgroup> tile_a: array<f16, ${tileRows * slice}>;
var<workgroup> tile_b: array<f16, ${slice * tileCols}>;
var<workgroup> tile_c: array<f32, ${m * tileCols}>;
@compute @workgroup_size(${threads})`,
    main: (epilogue) => `
  ${accumulators}
  for (var r0 = r_begin; r0 < r_end; r0 = r0 + ${slice}u) {
    for (var e = lane; e < ${tileRows * slice}u; e = e + ${threads}u) {
      let ii = e / ${slice}u;
      let kk = e % ${slice}u;
      let i = row0 + ii;
      let r = r0 + kk;
      var v = 0.0;
      if (i < ROWS && r < r_end) { v = ${read.a}; }${onesRow ? " else if (i == ROWS && r < r_end) { v = 1.0; }" : ""}
      tile_a[e] = to_half(v);
    }
    for (var e = lane; e < ${slice * tileCols}u; e = e + ${threads}u) {
      let kk = e / ${tileCols}u;
      let jj = e % ${tileCols}u;
      let j = col0 + jj;
      let r = r0 + kk;
      var v = 0.0;
      if (j < COLS && r < r_end) { v = ${read.b}; }
      tile_b[e] = to_half(v);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${slice}u; kk = kk + ${k}u) {
      ${loads}
      ${products}
    }
    workgroupBarrier();
  }
  ${epilogues(epilogue)}`,
  };
}

/** Splits of the reduced axis for a weight gradient: enough workgroups to fill a GPU, ≥ 256 rows each. */
export function weightGradSplits(rows: number, cols: number, depth: number): number {
  const tiles = Math.ceil((rows + 1) / TILE) * Math.ceil(cols / TILE);
  const wanted = Math.ceil(512 / tiles);
  return Math.max(1, Math.min(wanted, Math.floor(depth / 256)));
}
