import { gridSide, type ViTConfig } from "../../model/config.ts";
import { alignFloats, type BufferRegistry, type Region, wholeBuffer } from "./buffers.ts";
import type { KernelSource } from "./kernel.ts";
import type { MatmulFamily } from "./kernels/matmul.ts";
import { LOSS_SCALE_FLOATS, scalarCount } from "./kernels/optimizer.ts";
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
  /** The matmul kernels of every plan (device.ts `matmulFamilyFor`). */
  readonly matmuls: MatmulFamily;
  /**
   * Dynamic loss scaling (mixed precision): the model's loss-scale state and the step's f16
   * overflow word, bound to every kernel that names "lossScale" or "overflow"; null in fp32.
   */
  readonly lossScaling: {
    readonly state: GPUBuffer;
    readonly overflow: GPUBuffer;
    readonly growthInterval: number;
  } | null;
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
    /** Adds the step's dispatches (PlanBuilder); passed in so this file need not import the builder that uses it. */
    build: (plan: StepPlan, context: PlanContext) => void,
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
      build(this, context);
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
  add(kernel: KernelSource, bound: Readonly<Record<string, Region>>): void {
    const scaling = this.context.lossScaling;
    // The step-wide buffers of loss scaling, bound wherever a kernel names them.
    const regions = scaling
      ? {
          lossScale: wholeBuffer(scaling.state, LOSS_SCALE_FLOATS),
          overflow: wholeBuffer(scaling.overflow, 1),
          ...bound,
        }
      : bound;
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
