import { LAYER_NORM_EPSILON } from "../../model/backward.ts";
import { gridSide, type ViTConfig } from "../../model/config.ts";
import { blockPrefix } from "../../model/params.ts";
import { bilinearMatrix } from "../../model/pos-embed.ts";
import { alignFloats, type BufferRegistry, type Region, wholeBuffer } from "./buffers.ts";
import type { KernelSource } from "./kernel.ts";
import {
  attentionBackward,
  attentionForward,
  attentionSavedFloats,
  attentionScratchFloats,
} from "./kernels/attention-simple.ts";
import { classRows, embedBackward, unfoldPatches } from "./kernels/embed.ts";
import { headBackward, headForward, headReduce } from "./kernels/head.ts";
import {
  layerNormBackward,
  layerNormForward,
  layerNormParamGrads,
  paramGradSplits,
} from "./kernels/layernorm.ts";
import { matmul, weightGradSplits } from "./kernels/matmul.ts";
import { adamwEma, gradientSquares, optimizerWorkgroups, scalarCount } from "./kernels/optimizer.ts";
import { sumPartials } from "./kernels/reduce.ts";
import { rezeroGradPartials, rezeroPartialCount, scaleRows } from "./kernels/residual.ts";
import type { ParamLayout } from "./layout.ts";

/**
 * One training step of one sub-network (active blocks, input side, batch) as a fixed list of
 * dispatches over prebuilt bind groups: forward, backward, clipping, AdamW and every EMA. Its
 * activations live in buffers of its own; parameters, gradients, moments and EMAs are the
 * model's, bound by range.
 */
export interface PlanRequest {
  /** One flag per block the model holds. */
  readonly activeBlocks: readonly boolean[];
  readonly side: number;
  readonly batch: number;
  /** Per-sample keep masks are uploaded with each step. */
  readonly dropPath: boolean;
  readonly clip: boolean;
  readonly labelSmoothing: number;
}

export interface PlanContext {
  readonly device: GPUDevice;
  readonly buffers: BufferRegistry;
  readonly pipeline: (kernel: KernelSource) => GPUComputePipeline;
  readonly config: ViTConfig;
  readonly layout: ParamLayout;
  readonly flat: {
    readonly params: GPUBuffer;
    readonly grads: GPUBuffer;
    readonly firstMoment: GPUBuffer;
    readonly secondMoment: GPUBuffer;
    readonly emas: GPUBuffer | null;
  };
  readonly emaCount: number;
  readonly adamw: { beta1: number; beta2: number; epsilon: number; weightDecay: number };
  readonly decayed: (name: string) => boolean;
}

/** u32s per dispatch in the constants buffer: uniform binding offsets are multiples of 256 bytes. */
const CONSTANT_SLOT_U32 = 64;

export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly grid: readonly [number, number, number];
}

/** Float offsets of the parts of the one buffer a step uploads. */
export interface InputLayout {
  readonly images: number;
  readonly targets: number;
  readonly labels: number;
  readonly scalars: number;
  /** Block k's keep factors at keep + k·keepStride; -1 without drop-path. */
  readonly keep: number;
  readonly keepStride: number;
  readonly size: number;
}

export class StepPlan {
  readonly dispatches: Dispatch[] = [];
  readonly input: InputLayout;
  readonly inputBuffer: GPUBuffer;
  /** [mean loss, correct] after the step. */
  readonly metrics: GPUBuffer;
  readonly activeIndices: readonly number[];
  readonly tokens: number;
  /** Resolves with the first validation error of building the plan (a kernel or binding bug). */
  readonly validation: Promise<GPUError | null>;
  private readonly owned: GPUBuffer[] = [];
  private readonly pending: { kernel: KernelSource; regions: Readonly<Record<string, Region>> }[] = [];

  constructor(
    private readonly context: PlanContext,
    readonly request: PlanRequest,
  ) {
    const { config } = context;
    const { batch, side } = request;
    const grid = gridSide(config, side);
    this.tokens = grid * grid + 1;
    this.activeIndices = request.activeBlocks.flatMap((active, i) => (active ? [i] : []));
    let offset = 0;
    const take = (floats: number) => {
      const at = offset;
      offset += alignFloats(floats);
      return at;
    };
    const images = take(batch * side * side * config.channels);
    const targets = take(batch * config.numClasses);
    const labels = take(batch);
    const scalars = take(scalarCount(context.emaCount));
    // Each block's mask at its own aligned offset (binding offsets must be multiples of 256 bytes).
    const keep = request.dropPath ? take(this.activeIndices.length * alignFloats(batch)) : -1;
    this.input = { images, targets, labels, scalars, keep, keepStride: alignFloats(batch), size: offset };
    this.inputBuffer = this.allocate("input", offset);
    this.metrics = this.allocate("metrics", 2);
    context.device.pushErrorScope("validation");
    try {
      new PlanBuilder(this, context).build();
      this.finish();
    } finally {
      this.validation = context.device.popErrorScope();
    }
  }

  allocate(label: string, floats: number): GPUBuffer {
    const buffer = this.context.buffers.storage(label, floats);
    this.owned.push(buffer);
    return buffer;
  }

  inputRegion(offset: number, floats: number): Region {
    return { buffer: this.inputBuffer, offset: offset * 4, size: Math.max(4, floats * 4) };
  }

  /** Queues a dispatch; its bind group is made by `finish`, once every kernel's constants are known. */
  add(kernel: KernelSource, regions: Readonly<Record<string, Region>>): void {
    for (const binding of kernel.bindings) {
      if (binding.access !== "uniform" && !regions[binding.name])
        throw new Error(`${kernel.label}: nothing bound to ${binding.name}`);
    }
    this.pending.push({ kernel, regions });
  }

  /** One uniform buffer for every dispatch's constants (a 256-byte slot each), then the bind groups. */
  private finish(): void {
    const slots = this.pending.filter((p) => p.kernel.constants).length;
    const constants = new Uint32Array(Math.max(1, slots) * CONSTANT_SLOT_U32);
    const uniform = this.context.buffers.create({
      label: "constants",
      size: constants.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.owned.push(uniform);
    let slot = 0;
    for (const { kernel, regions } of this.pending) {
      const pipeline = this.context.pipeline(kernel);
      let dims: Region | null = null;
      if (kernel.constants) {
        constants.set(kernel.constants, slot * CONSTANT_SLOT_U32);
        dims = { buffer: uniform, offset: slot * CONSTANT_SLOT_U32 * 4, size: 64 };
        slot += 1;
      }
      const entries = kernel.bindings.map((binding, index) => {
        const region = binding.access === "uniform" ? dims : regions[binding.name];
        if (!region) throw new Error(`${kernel.label}: nothing bound to ${binding.name}`);
        return {
          binding: index,
          resource: { buffer: region.buffer, offset: region.offset, size: region.size },
        };
      });
      const bindGroup = this.context.device.createBindGroup({
        label: kernel.label,
        layout: pipeline.getBindGroupLayout(0),
        entries,
      });
      this.dispatches.push({ label: kernel.label, pipeline, bindGroup, grid: kernel.grid });
    }
    this.context.device.queue.writeBuffer(uniform, 0, constants);
    this.pending.length = 0;
  }

  /** Records the step's dispatches into one compute pass. */
  encode(pass: GPUComputePassEncoder): void {
    let current: GPUComputePipeline | null = null;
    for (const dispatch of this.dispatches) {
      if (dispatch.pipeline !== current) pass.setPipeline(dispatch.pipeline);
      current = dispatch.pipeline;
      pass.setBindGroup(0, dispatch.bindGroup);
      pass.dispatchWorkgroups(dispatch.grid[0], dispatch.grid[1], dispatch.grid[2]);
    }
  }

  destroy(): void {
    this.context.buffers.destroyAll(this.owned);
    this.owned.length = 0;
  }
}

/** Builds a plan's dispatch list in step order. */
class PlanBuilder {
  private readonly config: ViTConfig;

  constructor(
    private readonly plan: StepPlan,
    private readonly context: PlanContext,
  ) {
    this.config = context.config;
  }

  private param(name: string): Region {
    const entry = this.context.layout.entry(name);
    return { buffer: this.context.flat.params, offset: entry.offset * 4, size: entry.size * 4 };
  }

  private grad(name: string): Region {
    const entry = this.context.layout.entry(name);
    return { buffer: this.context.flat.grads, offset: entry.offset * 4, size: entry.size * 4 };
  }

  private scratch(label: string, floats: number): Region {
    return wholeBuffer(this.plan.allocate(label, floats), floats);
  }

  build(): void {
    const { config, plan } = this;
    const { batch, side, labelSmoothing } = plan.request;
    const { tokens, input } = plan;
    const width = config.width;
    const rows = batch * tokens;
    const grid = tokens === 1 ? 0 : Math.sqrt(tokens - 1);
    const patchRows = batch * (tokens - 1);
    const patchInputs = config.patchSize * config.patchSize * config.channels;
    const embedShape = { batch, side, patch: config.patchSize, channels: config.channels, width };

    // Forward: patches → stream.
    const patches = this.scratch("patches", patchRows * patchInputs);
    plan.add(unfoldPatches(embedShape), {
      images: plan.inputRegion(input.images, batch * side * side * config.channels),
      patches,
    });
    const fullGrid = gridSide(config, config.imageSize);
    const fullTokens = fullGrid * fullGrid + 1;
    let pos = this.param("embed.pos");
    let resize: Region | null = null;
    if (grid !== fullGrid) {
      resize = this.scratch("pos.resize", tokens * fullTokens);
      this.context.device.queue.writeBuffer(resize.buffer, 0, positionResizeMatrix(grid, fullGrid));
      pos = this.scratch("pos", tokens * width);
      plan.add(
        matmul(
          "pos.resize",
          { rows: tokens, cols: width, depth: fullTokens, a: "rowMajor", b: "rowMajor" },
          { kind: "store", bias: false },
        ),
        { a: resize, b: this.param("embed.pos"), out: pos },
      );
    }
    const streams: Region[] = [this.scratch("stream.0", rows * width)];
    const stream0 = streams[0] as Region;
    plan.add(
      matmul(
        "embed",
        { rows: patchRows, cols: width, depth: patchInputs, a: "rowMajor", b: "rowMajor" },
        { kind: "embed", tokens },
      ),
      { a: patches, b: this.param("embed.patch.w"), bias: this.param("embed.patch.b"), pos, out: stream0 },
    );
    plan.add(classRows(embedShape), { cls: this.param("embed.cls"), pos, stream: stream0 });

    const saved = plan.activeIndices.map((index, k) => {
      const block = this.forwardBlock(index, k, streams[k] as Region);
      streams.push(block.out);
      return block;
    });
    const last = streams[streams.length - 1] as Region;

    // Head and loss; its backward writes only the class rows of a stream gradient kept at zero.
    const headShape = {
      batch,
      tokens,
      width,
      classes: config.numClasses,
      smoothing: labelSmoothing,
      epsilon: LAYER_NORM_EPSILON,
    };
    const headNorm = this.scratch("head.norm", batch * width);
    const headStats = this.scratch("head.stats", batch * 2);
    const dLogits = this.scratch("head.dlogits", batch * config.numClasses);
    const sampleLoss = this.scratch("head.loss", batch * 2);
    const dHeadNorm = this.scratch("head.dnorm", batch * width);
    const dTop = this.scratch("head.dstream", rows * width);
    plan.add(headForward(headShape), {
      stream: last,
      gamma: this.param("norm.gamma"),
      beta: this.param("norm.beta"),
      headW: this.param("head.w"),
      headB: this.param("head.b"),
      targets: plan.inputRegion(input.targets, batch * config.numClasses),
      labels: plan.inputRegion(input.labels, batch),
      headNorm,
      headStats,
      dLogits,
      sampleLoss,
    });
    plan.add(headBackward(headShape), {
      stream: last,
      headStats,
      gamma: this.param("norm.gamma"),
      headW: this.param("head.w"),
      dLogits,
      dHeadNorm,
      dStream: dTop,
    });
    plan.add(headReduce(headShape), {
      stream: last,
      headStats,
      headNorm,
      dHeadNorm,
      dLogits,
      sampleLoss,
      dHeadW: this.grad("head.w"),
      dHeadB: this.grad("head.b"),
      dGamma: this.grad("norm.gamma"),
      dBeta: this.grad("norm.beta"),
      metrics: wholeBuffer(plan.metrics, 2),
    });

    // Backward through the blocks, the stream's gradient alternating between two buffers.
    const scratch = new BackwardScratch(this, rows, width, config.mlpRatio * width);
    let dOut = dTop;
    for (let k = saved.length - 1; k >= 0; k--) {
      const dIn = scratch.streamGrad(k % 2);
      this.backwardBlock(saved[k] as SavedBlock, streams[k] as Region, dOut, dIn, scratch);
      dOut = dIn;
    }

    // Embedding backward.
    const dPatchRows = this.scratch("embed.drows", patchRows * width);
    const dPos = resize ? this.scratch("pos.grad", tokens * width) : this.grad("embed.pos");
    plan.add(embedBackward(embedShape), { dStream: dOut, dPatchRows, dPos, dCls: this.grad("embed.cls") });
    this.weightGrad("embed.patch", patches, dPatchRows, patchInputs, width, patchRows, scratch);
    if (resize) {
      plan.add(
        matmul(
          "pos.resize.grad",
          { rows: fullTokens, cols: width, depth: tokens, a: "transposed", b: "rowMajor" },
          { kind: "store", bias: false },
        ),
        { a: resize, b: dPos, out: this.grad("embed.pos") },
      );
    }
    this.optimizer();
  }

  private forwardBlock(index: number, k: number, x: Region): SavedBlock {
    const { config, plan } = this;
    const { batch } = plan.request;
    const { tokens } = plan;
    const width = config.width;
    const hidden = config.mlpRatio * width;
    const rows = batch * tokens;
    const p = blockPrefix(index);
    const rezero = this.context.layout.has(`${p}rezero`);
    const keep = plan.request.dropPath
      ? plan.inputRegion(plan.input.keep + k * plan.input.keepStride, batch)
      : null;
    const lnShape = { rows, width, epsilon: LAYER_NORM_EPSILON };
    const attention = { batch, tokens, heads: config.heads, headWidth: width / config.heads };
    const block: SavedBlock = {
      index,
      keep,
      rezero,
      ln1: this.scratch(`b${index}.ln1`, rows * width),
      stats1: this.scratch(`b${index}.stats1`, rows * 2),
      qkv: this.scratch(`b${index}.qkv`, rows * 3 * width),
      attnSaved: this.scratch(`b${index}.attnSaved`, attentionSavedFloats(attention)),
      attn: this.scratch(`b${index}.attn`, rows * width),
      y1: this.scratch(`b${index}.y1`, rows * width),
      ln2: this.scratch(`b${index}.ln2`, rows * width),
      stats2: this.scratch(`b${index}.stats2`, rows * 2),
      pre: this.scratch(`b${index}.pre`, rows * hidden),
      hidden: this.scratch(`b${index}.hidden`, rows * hidden),
      branchAttn: rezero ? this.scratch(`b${index}.branchAttn`, rows * width) : null,
      branchMlp: rezero ? this.scratch(`b${index}.branchMlp`, rows * width) : null,
      out: this.scratch(`b${index}.out`, rows * width),
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
      ...(rezero ? { rezero: this.param(`${p}rezero`) } : {}),
    };
    plan.add(layerNormForward("ln1", lnShape), {
      x,
      gamma: this.param(`${p}norm1.gamma`),
      beta: this.param(`${p}norm1.beta`),
      out: block.ln1,
      stats: block.stats1,
    });
    plan.add(
      matmul(
        "qkv",
        { rows, cols: 3 * width, depth: width, a: "rowMajor", b: "rowMajor" },
        { kind: "store", bias: true },
      ),
      { a: block.ln1, b: this.param(`${p}attn.qkv.w`), bias: this.param(`${p}attn.qkv.b`), out: block.qkv },
    );
    for (const kernel of attentionForward(attention)) {
      plan.add(kernel, { qkv: block.qkv, attn: block.attn, attnSaved: block.attnSaved });
    }
    plan.add(
      matmul("proj", { rows, cols: width, depth: width, a: "rowMajor", b: "rowMajor" }, residualEpilogue),
      {
        a: block.attn,
        b: this.param(`${p}attn.proj.w`),
        bias: this.param(`${p}attn.proj.b`),
        residual: x,
        ...scaling,
        ...(block.branchAttn ? { branch: block.branchAttn } : {}),
        out: block.y1,
      },
    );
    plan.add(layerNormForward("ln2", lnShape), {
      x: block.y1,
      gamma: this.param(`${p}norm2.gamma`),
      beta: this.param(`${p}norm2.beta`),
      out: block.ln2,
      stats: block.stats2,
    });
    plan.add(
      matmul("fc1", { rows, cols: hidden, depth: width, a: "rowMajor", b: "rowMajor" }, { kind: "gelu" }),
      {
        a: block.ln2,
        b: this.param(`${p}mlp.fc1.w`),
        bias: this.param(`${p}mlp.fc1.b`),
        pre: block.pre,
        out: block.hidden,
      },
    );
    plan.add(
      matmul("fc2", { rows, cols: width, depth: hidden, a: "rowMajor", b: "rowMajor" }, residualEpilogue),
      {
        a: block.hidden,
        b: this.param(`${p}mlp.fc2.w`),
        bias: this.param(`${p}mlp.fc2.b`),
        residual: block.y1,
        ...scaling,
        ...(block.branchMlp ? { branch: block.branchMlp } : {}),
        out: block.out,
      },
    );
    return block;
  }

  private backwardBlock(
    block: SavedBlock,
    x: Region,
    dOut: Region,
    dIn: Region,
    scratch: BackwardScratch,
  ): void {
    const { config, plan } = this;
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
      ...(block.rezero ? { rezero: this.param(`${p}rezero`) } : {}),
    };
    const branchGrad = (dy: Region): Region => {
      if (!scaled) return dy;
      plan.add(scaleRows("branch.grad", scaleShape), { dy, ...scaling, out: scratch.branch });
      return scratch.branch;
    };
    // MLP branch.
    const dMlp = branchGrad(dOut);
    this.weightGrad(`${p}mlp.fc2`, block.hidden, dMlp, hidden, width, rows, scratch);
    plan.add(
      matmul(
        "fc2.dx",
        { rows, cols: hidden, depth: width, a: "rowMajor", b: "transposed" },
        { kind: "geluGrad" },
      ),
      { a: dMlp, b: this.param(`${p}mlp.fc2.w`), pre: block.pre, out: scratch.hidden },
    );
    this.weightGrad(`${p}mlp.fc1`, block.ln2, scratch.hidden, width, hidden, rows, scratch);
    plan.add(
      matmul(
        "fc1.dx",
        { rows, cols: width, depth: hidden, a: "rowMajor", b: "transposed" },
        { kind: "store", bias: false },
      ),
      { a: scratch.hidden, b: this.param(`${p}mlp.fc1.w`), out: scratch.ln },
    );
    this.layerNormGrads(`${p}norm2`, lnShape, scratch.ln, block.y1, block.stats2, dOut, scratch.y1, scratch);
    // Attention branch.
    const dAttnOut = branchGrad(scratch.y1);
    this.weightGrad(`${p}attn.proj`, block.attn, dAttnOut, width, width, rows, scratch);
    plan.add(
      matmul(
        "proj.dx",
        { rows, cols: width, depth: width, a: "rowMajor", b: "transposed" },
        { kind: "store", bias: false },
      ),
      { a: dAttnOut, b: this.param(`${p}attn.proj.w`), out: scratch.attn },
    );
    const attention = { batch, tokens, heads: config.heads, headWidth: width / config.heads };
    for (const kernel of attentionBackward(attention)) {
      plan.add(kernel, {
        dAttn: scratch.attn,
        qkv: block.qkv,
        attnSaved: block.attnSaved,
        attnScratch: scratch.attention(attentionScratchFloats(attention)),
        dQkv: scratch.qkv,
      });
    }
    this.weightGrad(`${p}attn.qkv`, block.ln1, scratch.qkv, width, 3 * width, rows, scratch);
    plan.add(
      matmul(
        "qkv.dx",
        { rows, cols: width, depth: 3 * width, a: "rowMajor", b: "transposed" },
        { kind: "store", bias: false },
      ),
      { a: scratch.qkv, b: this.param(`${p}attn.qkv.w`), out: scratch.ln },
    );
    this.layerNormGrads(`${p}norm1`, lnShape, scratch.ln, x, block.stats1, scratch.y1, dIn, scratch);
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
        out: this.grad(`${p}rezero`),
      });
    }
  }

  /** dW = xᵀ·dy and db = Σ dy of the dense layer `prefix` (weights `.w` [inputs, outputs], `.b`). */
  weightGrad(
    prefix: string,
    x: Region,
    dy: Region,
    inputs: number,
    outputs: number,
    rows: number,
    scratch: BackwardScratch,
  ): void {
    const splits = weightGradSplits(inputs, outputs, rows);
    const shape = { rows: inputs, cols: outputs, depth: rows, a: "transposed", b: "rowMajor" } as const;
    const dW = this.grad(`${prefix}.w`);
    const dB = this.grad(`${prefix}.b`);
    if (splits === 1) {
      this.plan.add(matmul(`${prefix}.dw`, shape, { kind: "weightGrad", splits }), {
        a: x,
        b: dy,
        out: dW,
        biasGrad: dB,
      });
      return;
    }
    const partials = scratch.partials(splits * (inputs + 1) * outputs);
    this.plan.add(matmul("dense.dw", shape, { kind: "weightGrad", splits }), { a: x, b: dy, partials });
    this.plan.add(
      sumPartials("dense.dw.sum", splits, [
        { name: "out", length: inputs * outputs },
        { name: "biasGrad", length: outputs },
      ]),
      { partials, out: dW, biasGrad: dB },
    );
  }

  private layerNormGrads(
    prefix: string,
    shape: { rows: number; width: number; epsilon: number },
    dy: Region,
    x: Region,
    stats: Region,
    around: Region,
    dx: Region,
    scratch: BackwardScratch,
  ): void {
    const gamma = this.param(`${prefix}.gamma`);
    this.plan.add(layerNormBackward("ln.dx", shape, true), { dy, x, stats, gamma, around, dx });
    const splits = paramGradSplits(shape.rows, shape.width);
    if (splits === 1) {
      this.plan.add(layerNormParamGrads("ln.dgamma", shape, 1), {
        dy,
        x,
        stats,
        dGamma: this.grad(`${prefix}.gamma`),
        dBeta: this.grad(`${prefix}.beta`),
      });
      return;
    }
    const partials = scratch.partials(splits * 2 * shape.width);
    this.plan.add(layerNormParamGrads("ln.dgamma", shape, splits), { dy, x, stats, partials });
    this.plan.add(
      sumPartials("ln.dgamma.sum", splits, [
        { name: "dGamma", length: shape.width },
        { name: "dBeta", length: shape.width },
      ]),
      { partials, dGamma: this.grad(`${prefix}.gamma`), dBeta: this.grad(`${prefix}.beta`) },
    );
  }

  private optimizer(): void {
    const { context, plan } = this;
    const { layout, flat } = context;
    const active = new Set(plan.activeIndices);
    const flags = this.scratch("flags", layout.size);
    context.device.queue.writeBuffer(
      flags.buffer,
      0,
      layout.flags((name) => {
        const match = /^blocks\.(\d+)\./.exec(name);
        return !match || active.has(Number(match[1]));
      }, context.decayed),
    );
    const shape = { size: layout.size, emas: context.emaCount, ...context.adamw, clip: plan.request.clip };
    const groups = optimizerWorkgroups(layout.size);
    const partials = plan.request.clip ? this.scratch("norm.partials", groups) : null;
    const grads = wholeBuffer(flat.grads, layout.size);
    if (partials) plan.add(gradientSquares(shape), { grads, flags, partials });
    plan.add(adamwEma(shape), {
      grads,
      flags,
      scalars: plan.inputRegion(plan.input.scalars, scalarCount(context.emaCount)),
      ...(partials ? { partials } : {}),
      params: wholeBuffer(flat.params, layout.size),
      firstMoment: wholeBuffer(flat.firstMoment, layout.size),
      secondMoment: wholeBuffer(flat.secondMoment, layout.size),
      ...(flat.emas ? { emas: wholeBuffer(flat.emas, layout.size * context.emaCount) } : {}),
    });
  }

  allocate(label: string, floats: number): Region {
    return this.scratch(label, floats);
  }
}

interface SavedBlock {
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
class BackwardScratch {
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
    private readonly builder: PlanBuilder,
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
 * [N, G²+1] matrix of the position-table resize (model/pos-embed.ts): the class row kept, the
 * grid resized bilinearly along both axes (the Kronecker product of the 1-D matrices).
 */
export function positionResizeMatrix(grid: number, fullGrid: number): Float32Array {
  const along = bilinearMatrix(grid, fullGrid);
  const tokens = grid * grid + 1;
  const fullTokens = fullGrid * fullGrid + 1;
  const matrix = new Float32Array(tokens * fullTokens);
  matrix[0] = 1;
  for (let h = 0; h < grid; h++)
    for (let w = 0; w < grid; w++)
      for (let sh = 0; sh < fullGrid; sh++)
        for (let sw = 0; sw < fullGrid; sw++) {
          const weight = (along[h * fullGrid + sh] as number) * (along[w * fullGrid + sw] as number);
          if (weight !== 0) matrix[(1 + h * grid + w) * fullTokens + 1 + sh * fullGrid + sw] = weight;
        }
  return matrix;
}
