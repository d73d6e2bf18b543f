import { LAYER_NORM_EPSILON } from "../../model/backward.ts";
import { gridSide, type ViTConfig } from "../../model/config.ts";
import { bilinearMatrix } from "../../model/pos-embed.ts";
import { type Region, wholeBuffer } from "./buffers.ts";
import type { KernelSource } from "./kernel.ts";
import { classRows, embedBackward, unfoldPatches } from "./kernels/embed.ts";
import { headBackward, headForward, headReduce } from "./kernels/head.ts";
import { layerNormBackward, layerNormParamGrads, paramGradSplits } from "./kernels/layernorm.ts";
import { type MatmulEpilogue, type MatmulShape, matmul, weightGradSplits } from "./kernels/matmul.ts";
import {
  adamwEma,
  gradientSquares,
  optimizerWorkgroups,
  scalarCount,
  updateLossScale,
} from "./kernels/optimizer.ts";
import { sumPartials } from "./kernels/reduce.ts";
import type { PlanContext, StepPlan } from "./plan.ts";
import {
  BackwardScratch,
  type BlockBuilder,
  backwardBlock,
  forwardBlock,
  type SavedBlock,
} from "./plan-block.ts";

/** Builds a plan's dispatch list in step order. */
export class PlanBuilder implements BlockBuilder {
  readonly config: ViTConfig;

  constructor(
    readonly plan: StepPlan,
    readonly context: PlanContext,
  ) {
    this.config = context.config;
  }

  param(name: string): Region {
    const entry = this.context.layout.entry(name);
    return { buffer: this.context.flat.params, offset: entry.offset * 4, size: entry.size * 4 };
  }

  grad(name: string): Region {
    const entry = this.context.layout.entry(name);
    return { buffer: this.context.flat.grads, offset: entry.offset * 4, size: entry.size * 4 };
  }

  matmul(label: string, shape: MatmulShape, epilogue: MatmulEpilogue): KernelSource {
    return matmul(label, shape, epilogue, this.context.matmuls);
  }

  scratch(label: string, floats: number): Region {
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
        this.matmul(
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
      this.matmul(
        "embed",
        { rows: patchRows, cols: width, depth: patchInputs, a: "rowMajor", b: "rowMajor" },
        { kind: "embed", tokens },
      ),
      { a: patches, b: this.param("embed.patch.w"), bias: this.param("embed.patch.b"), pos, out: stream0 },
    );
    plan.add(classRows(embedShape), { cls: this.param("embed.cls"), pos, stream: stream0 });

    const saved = plan.activeIndices.map((index, k) => {
      const block = forwardBlock(this, index, k, streams[k] as Region);
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
      lossScaled: this.context.lossScaling !== null,
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
      backwardBlock(this, saved[k] as SavedBlock, streams[k] as Region, dOut, dIn, scratch);
      dOut = dIn;
    }

    // Embedding backward.
    const dPatchRows = this.scratch("embed.drows", patchRows * width);
    const dPos = resize ? this.scratch("pos.grad", tokens * width) : this.grad("embed.pos");
    plan.add(embedBackward(embedShape), { dStream: dOut, dPatchRows, dPos, dCls: this.grad("embed.cls") });
    this.weightGrad("embed.patch", patches, dPatchRows, patchInputs, width, patchRows, scratch);
    if (resize) {
      plan.add(
        this.matmul(
          "pos.resize.grad",
          { rows: fullTokens, cols: width, depth: tokens, a: "transposed", b: "rowMajor" },
          { kind: "store", bias: false },
        ),
        { a: resize, b: dPos, out: this.grad("embed.pos") },
      );
    }
    this.optimizer();
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
      this.plan.add(this.matmul(`${prefix}.dw`, shape, { kind: "weightGrad", splits }), {
        a: x,
        b: dy,
        out: dW,
        biasGrad: dB,
      });
      return;
    }
    const partials = scratch.partials(splits * (inputs + 1) * outputs);
    this.plan.add(this.matmul("dense.dw", shape, { kind: "weightGrad", splits }), { a: x, b: dy, partials });
    this.plan.add(
      sumPartials("dense.dw.sum", splits, [
        { name: "out", length: inputs * outputs },
        { name: "biasGrad", length: outputs },
      ]),
      { partials, out: dW, biasGrad: dB },
    );
  }

  layerNormGrads(
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
    const scaling = context.lossScaling;
    const shape = {
      size: layout.size,
      emas: context.emaCount,
      ...context.adamw,
      clip: plan.request.clip,
      lossScaling: scaling !== null,
    };
    const groups = optimizerWorkgroups(layout.size);
    const partials = plan.request.clip || scaling ? this.scratch("norm.partials", groups) : null;
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
    if (scaling && partials) {
      plan.add(updateLossScale({ size: layout.size, growthInterval: scaling.growthInterval }), { partials });
    }
  }

  allocate(label: string, floats: number): Region {
    return this.scratch(label, floats);
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
