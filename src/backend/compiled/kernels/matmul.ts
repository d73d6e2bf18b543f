import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, dim, GELU_FUNCTIONS } from "./wgsl.ts";

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

function bindingsOf(epilogue: MatmulEpilogue): KernelBinding[] {
  const read = (name: string): KernelBinding => ({ name, access: "read" });
  const write = (name: string): KernelBinding => ({ name, access: "read_write" });
  const list: KernelBinding[] = [{ name: "dims", access: "uniform" }, read("a"), read("b")];
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

export function matmul(label: string, shape: MatmulShape, epilogue: MatmulEpilogue): KernelSource {
  const { rows, cols, depth } = shape;
  const onesRow = epilogue.kind === "weightGrad";
  if (onesRow && shape.a !== "transposed") throw new Error(`${label}: a weight gradient reads Aᵀ`);
  const outRows = rows + (onesRow ? 1 : 0);
  const splits = epilogue.kind === "weightGrad" ? Math.max(1, epilogue.splits) : 1;
  const chunk = Math.ceil(depth / splits / SLICE) * SLICE;
  const bindings = bindingsOf(epilogue);
  // A tile [SLICE][TILE] (r, i) and B tile [SLICE][TILE] (r, j); loads walk the contiguous axis.
  const loadA =
    shape.a === "rowMajor"
      ? "let kk = e % 16u; let ii = e / 16u; let i = row0 + ii; let r = r0 + kk;"
      : "let ii = e % 64u; let kk = e / 64u; let i = row0 + ii; let r = r0 + kk;";
  const readA = shape.a === "rowMajor" ? "a[i * DEPTH + r]" : "a[r * ROWS + i]";
  const loadB =
    shape.b === "rowMajor"
      ? "let jj = e % 64u; let kk = e / 64u; let j = col0 + jj; let r = r0 + kk;"
      : "let kk = e % 16u; let jj = e / 16u; let j = col0 + jj; let r = r0 + kk;";
  const readB = shape.b === "rowMajor" ? "b[r * COLS + j]" : "b[j * DEPTH + r]";
  const code = `
${declareBindings(bindings)}
var<workgroup> tile_a: array<f32, ${SLICE * TILE}>;
var<workgroup> tile_b: array<f32, ${SLICE * TILE}>;
${epilogue.kind === "gelu" || epilogue.kind === "geluGrad" ? GELU_FUNCTIONS : ""}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let ROWS = ${dim(DIMS.rows)};
  let COLS = ${dim(DIMS.cols)};
  let DEPTH = ${dim(DIMS.depth)};
  let CHUNK = ${dim(DIMS.chunk)};
  let TOKENS = ${dim(DIMS.tokens)};
  let OUT_ROWS = ROWS${onesRow ? " + 1u" : ""};
  let row0 = wg.y * ${TILE}u;
  let col0 = wg.x * ${TILE}u;
  let r_begin = wg.z * CHUNK;
  let r_end = min(r_begin + CHUNK, DEPTH);
  var acc: array<f32, 16>;
  for (var r0 = r_begin; r0 < r_end; r0 = r0 + ${SLICE}u) {
    for (var step = 0u; step < 4u; step = step + 1u) {
      let e = lane + step * 256u;
      {
        ${loadA}
        var v = 0.0;
        if (i < ROWS && r < r_end) { v = ${readA}; }${onesRow ? " else if (i == ROWS && r < r_end) { v = 1.0; }" : ""}
        tile_a[kk * ${TILE}u + ii] = v;
      }
      {
        ${loadB}
        var v = 0.0;
        if (j < COLS && r < r_end) { v = ${readB}; }
        tile_b[kk * ${TILE}u + jj] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${SLICE}u; kk = kk + 1u) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var u = 0u; u < 4u; u = u + 1u) {
        av[u] = tile_a[kk * ${TILE}u + lid.y + u * 16u];
        bv[u] = tile_b[kk * ${TILE}u + lid.x + u * 16u];
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
      ${epilogueCode(epilogue)}
    }
  }
}`;
  const tokens = epilogue.kind === "residual" || epilogue.kind === "embed" ? epilogue.tokens : 1;
  return {
    label,
    code,
    bindings,
    grid: [Math.ceil(cols / TILE), Math.ceil(outRows / TILE), splits],
    constants: [rows, cols, depth, chunk, tokens],
  };
}

/** Splits of the reduced axis for a weight gradient: enough workgroups to fill a GPU, ≥ 256 rows each. */
export function weightGradSplits(rows: number, cols: number, depth: number): number {
  const tiles = Math.ceil((rows + 1) / TILE) * Math.ceil(cols / TILE);
  const wanted = Math.ceil(512 / tiles);
  return Math.max(1, Math.min(wanted, Math.floor(depth / 256)));
}
