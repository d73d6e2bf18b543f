import { LAYER_NORM_EPSILON } from "../../model/backward.ts";
import type { ViTConfig } from "../../model/config.ts";
import { blockPrefix } from "../../model/params.ts";
import type { Region } from "./buffers.ts";
import type { KernelSource } from "./kernel.ts";
import {
  attentionBackward,
  attentionForward,
  attentionSavedFloats,
  attentionScratchFloats,
} from "./kernels/attention.ts";
import { layerNormForward } from "./kernels/layernorm.ts";
import type { MatmulEpilogue, MatmulShape } from "./kernels/matmul.ts";
import { sumPartials } from "./kernels/reduce.ts";
import { rezeroGradPartials, rezeroPartialCount, scaleRows } from "./kernels/residual.ts";
import type { PlanContext, StepPlan } from "./plan.ts";

/**
 * A transformer block's dispatches: the forward pass (keeping what the backward pass reads, in
 * buffers of the block's own) and the backward pass (through scratch every block reuses).
 */

/** Forward of active block `index` (the k-th active one) on the stream x; returns what it saved. */
export function forwardBlock(builder: BlockBuilder, index: number, k: number, x: Region): SavedBlock {
  const { config, plan } = builder;
  const { batch } = plan.request;
  const { tokens } = plan;
  const width = config.width;
  const hidden = config.mlpRatio * width;
  const rows = batch * tokens;
  const p = blockPrefix(index);
  const rezero = builder.context.layout.has(`${p}rezero`);
  const keep = plan.request.dropPath
    ? plan.inputRegion(plan.input.keep + k * plan.input.keepStride, batch)
    : null;
  const lnShape = { rows, width, epsilon: LAYER_NORM_EPSILON };
  const attention = { batch, tokens, heads: config.heads, headWidth: width / config.heads };
  const block: SavedBlock = {
    index,
    keep,
    rezero,
    ln1: builder.scratch(`b${index}.ln1`, rows * width),
    stats1: builder.scratch(`b${index}.stats1`, rows * 2),
    qkv: builder.scratch(`b${index}.qkv`, rows * 3 * width),
    attnSaved: builder.scratch(`b${index}.attnSaved`, attentionSavedFloats(attention)),
    attn: builder.scratch(`b${index}.attn`, rows * width),
    y1: builder.scratch(`b${index}.y1`, rows * width),
    ln2: builder.scratch(`b${index}.ln2`, rows * width),
    stats2: builder.scratch(`b${index}.stats2`, rows * 2),
    pre: builder.scratch(`b${index}.pre`, rows * hidden),
    hidden: builder.scratch(`b${index}.hidden`, rows * hidden),
    branchAttn: rezero ? builder.scratch(`b${index}.branchAttn`, rows * width) : null,
    branchMlp: rezero ? builder.scratch(`b${index}.branchMlp`, rows * width) : null,
    out: builder.scratch(`b${index}.out`, rows * width),
  };
  const residualEpilogue = {
    kind: "residual",
    tokens,
    keep: keep !== null,
    rezero,
    saveBranch: rezero,
  } as const;
  const scaling = {
    ...(keep ? { keep } : {}),
    ...(rezero ? { rezero: builder.param(`${p}rezero`) } : {}),
  };
  plan.add(layerNormForward("ln1", lnShape), {
    x,
    gamma: builder.param(`${p}norm1.gamma`),
    beta: builder.param(`${p}norm1.beta`),
    out: block.ln1,
    stats: block.stats1,
  });
  plan.add(
    builder.matmul(
      "qkv",
      { rows, cols: 3 * width, depth: width, a: "rowMajor", b: "rowMajor" },
      { kind: "store", bias: true },
    ),
    {
      a: block.ln1,
      b: builder.param(`${p}attn.qkv.w`),
      bias: builder.param(`${p}attn.qkv.b`),
      out: block.qkv,
    },
  );
  for (const kernel of attentionForward(attention)) {
    plan.add(kernel, { qkv: block.qkv, attn: block.attn, attnSaved: block.attnSaved });
  }
  plan.add(
    builder.matmul(
      "proj",
      { rows, cols: width, depth: width, a: "rowMajor", b: "rowMajor" },
      residualEpilogue,
    ),
    {
      a: block.attn,
      b: builder.param(`${p}attn.proj.w`),
      bias: builder.param(`${p}attn.proj.b`),
      residual: x,
      ...scaling,
      ...(block.branchAttn ? { branch: block.branchAttn } : {}),
      out: block.y1,
    },
  );
  plan.add(layerNormForward("ln2", lnShape), {
    x: block.y1,
    gamma: builder.param(`${p}norm2.gamma`),
    beta: builder.param(`${p}norm2.beta`),
    out: block.ln2,
    stats: block.stats2,
  });
  plan.add(
    builder.matmul(
      "fc1",
      { rows, cols: hidden, depth: width, a: "rowMajor", b: "rowMajor" },
      { kind: "gelu" },
    ),
    {
      a: block.ln2,
      b: builder.param(`${p}mlp.fc1.w`),
      bias: builder.param(`${p}mlp.fc1.b`),
      pre: block.pre,
      out: block.hidden,
    },
  );
  plan.add(
    builder.matmul(
      "fc2",
      { rows, cols: width, depth: hidden, a: "rowMajor", b: "rowMajor" },
      residualEpilogue,
    ),
    {
      a: block.hidden,
      b: builder.param(`${p}mlp.fc2.w`),
      bias: builder.param(`${p}mlp.fc2.b`),
      residual: block.y1,
      ...scaling,
      ...(block.branchMlp ? { branch: block.branchMlp } : {}),
      out: block.out,
    },
  );
  return block;
}

/** Backward of a block: dOut (the gradient of its output) → dIn, and every weight's gradient. */
export function backwardBlock(
  builder: BlockBuilder,
  block: SavedBlock,
  x: Region,
  dOut: Region,
  dIn: Region,
  scratch: BackwardScratch,
): void {
  const { config, plan } = builder;
  const { batch } = plan.request;
  const { tokens } = plan;
  const width = config.width;
  const hidden = config.mlpRatio * width;
  const rows = batch * tokens;
  const p = blockPrefix(block.index);
  const lnShape = { rows, width, epsilon: LAYER_NORM_EPSILON };
  const scaleShape = { rows, width, tokens, keep: block.keep !== null, rezero: block.rezero };
  const scaled = block.keep !== null || block.rezero;
  const scaling = {
    ...(block.keep ? { keep: block.keep } : {}),
    ...(block.rezero ? { rezero: builder.param(`${p}rezero`) } : {}),
  };
  const branchGrad = (dy: Region): Region => {
    if (!scaled) return dy;
    plan.add(scaleRows("branch.grad", scaleShape), { dy, ...scaling, out: scratch.branch });
    return scratch.branch;
  };
  // MLP branch.
  const dMlp = branchGrad(dOut);
  builder.weightGrad(`${p}mlp.fc2`, block.hidden, dMlp, hidden, width, rows, scratch);
  plan.add(
    builder.matmul(
      "fc2.dx",
      { rows, cols: hidden, depth: width, a: "rowMajor", b: "transposed" },
      { kind: "geluGrad" },
    ),
    { a: dMlp, b: builder.param(`${p}mlp.fc2.w`), pre: block.pre, out: scratch.hidden },
  );
  builder.weightGrad(`${p}mlp.fc1`, block.ln2, scratch.hidden, width, hidden, rows, scratch);
  plan.add(
    builder.matmul(
      "fc1.dx",
      { rows, cols: width, depth: hidden, a: "rowMajor", b: "transposed" },
      { kind: "store", bias: false },
    ),
    { a: scratch.hidden, b: builder.param(`${p}mlp.fc1.w`), out: scratch.ln },
  );
  builder.layerNormGrads(`${p}norm2`, lnShape, scratch.ln, block.y1, block.stats2, dOut, scratch.y1, scratch);
  // Attention branch.
  const dAttnOut = branchGrad(scratch.y1);
  builder.weightGrad(`${p}attn.proj`, block.attn, dAttnOut, width, width, rows, scratch);
  plan.add(
    builder.matmul(
      "proj.dx",
      { rows, cols: width, depth: width, a: "rowMajor", b: "transposed" },
      { kind: "store", bias: false },
    ),
    { a: dAttnOut, b: builder.param(`${p}attn.proj.w`), out: scratch.attn },
  );
  const attention = { batch, tokens, heads: config.heads, headWidth: width / config.heads };
  for (const kernel of attentionBackward(attention)) {
    plan.add(kernel, {
      dAttn: scratch.attn,
      attn: block.attn,
      qkv: block.qkv,
      attnSaved: block.attnSaved,
      attnScratch: scratch.attention(attentionScratchFloats(attention)),
      dQkv: scratch.qkv,
    });
  }
  builder.weightGrad(`${p}attn.qkv`, block.ln1, scratch.qkv, width, 3 * width, rows, scratch);
  plan.add(
    builder.matmul(
      "qkv.dx",
      { rows, cols: width, depth: 3 * width, a: "rowMajor", b: "transposed" },
      { kind: "store", bias: false },
    ),
    { a: scratch.qkv, b: builder.param(`${p}attn.qkv.w`), out: scratch.ln },
  );
  builder.layerNormGrads(`${p}norm1`, lnShape, scratch.ln, x, block.stats1, scratch.y1, dIn, scratch);
  if (block.rezero && block.branchAttn && block.branchMlp) {
    const count = rezeroPartialCount(scaleShape);
    const partials = scratch.partials(count);
    plan.add(rezeroGradPartials("rezero.grad", scaleShape), {
      dMlp: dOut,
      branchMlp: block.branchMlp,
      dAttn: scratch.y1,
      branchAttn: block.branchAttn,
      ...(block.keep ? { keep: block.keep } : {}),
      partials,
    });
    plan.add(sumPartials("rezero.sum", count, [{ name: "out", length: 1 }]), {
      partials,
      out: builder.grad(`${p}rezero`),
    });
  }
}

export interface SavedBlock {
  readonly index: number;
  readonly keep: Region | null;
  readonly rezero: boolean;
  readonly ln1: Region;
  readonly stats1: Region;
  readonly qkv: Region;
  readonly attnSaved: Region;
  readonly attn: Region;
  readonly y1: Region;
  readonly ln2: Region;
  readonly stats2: Region;
  readonly pre: Region;
  readonly hidden: Region;
  readonly branchAttn: Region | null;
  readonly branchMlp: Region | null;
  readonly out: Region;
}

/** Gradient buffers every block's backward pass reuses. */
export class BackwardScratch {
  readonly branch: Region;
  readonly hidden: Region;
  readonly ln: Region;
  readonly y1: Region;
  readonly attn: Region;
  readonly qkv: Region;
  private readonly streams: [Region, Region];
  private partialRegion: Region | null = null;
  private attentionRegion: Region | null = null;
  private readonly sizes = { partials: 0, attention: 0 };

  constructor(
    private readonly builder: BlockBuilder,
    rows: number,
    width: number,
    hidden: number,
  ) {
    const make = (label: string, floats: number) => builder.allocate(label, floats);
    this.branch = make("d.branch", rows * width);
    this.hidden = make("d.hidden", rows * hidden);
    this.ln = make("d.ln", rows * width);
    this.y1 = make("d.y1", rows * width);
    this.attn = make("d.attn", rows * width);
    this.qkv = make("d.qkv", rows * 3 * width);
    this.streams = [make("d.stream.0", rows * width), make("d.stream.1", rows * width)];
  }

  streamGrad(which: 0 | 1 | number): Region {
    return this.streams[which % 2] as Region;
  }

  /** Split partial sums: one buffer sized for the largest use (uses never overlap in time). */
  partials(floats: number): Region {
    if (!this.partialRegion || this.sizes.partials < floats) {
      this.partialRegion = this.builder.allocate("partials", Math.max(floats, 4096));
      this.sizes.partials = Math.max(floats, 4096);
    }
    return this.partialRegion;
  }

  attention(floats: number): Region {
    if (!this.attentionRegion || this.sizes.attention < floats) {
      this.attentionRegion = this.builder.allocate("attn.scratch", floats);
      this.sizes.attention = floats;
    }
    return this.attentionRegion;
  }
}

/**
 * What a block's dispatches need of the plan builder (PlanBuilder implements it); declared here so
 * the block code does not import the builder that calls it.
 */
export interface BlockBuilder {
  readonly config: ViTConfig;
  readonly plan: StepPlan;
  readonly context: PlanContext;
  param(name: string): Region;
  grad(name: string): Region;
  scratch(label: string, floats: number): Region;
  allocate(label: string, floats: number): Region;
  /** A matmul kernel of the plan's family. */
  matmul(label: string, shape: MatmulShape, epilogue: MatmulEpilogue): KernelSource;
  weightGrad(
    prefix: string,
    x: Region,
    dy: Region,
    inputs: number,
    outputs: number,
    rows: number,
    scratch: BackwardScratch,
  ): void;
  layerNormGrads(
    prefix: string,
    shape: { rows: number; width: number; epsilon: number },
    dy: Region,
    x: Region,
    stats: Region,
    around: Region,
    dx: Region,
    scratch: BackwardScratch,
  ): void;
}
