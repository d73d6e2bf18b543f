import type { ViTConfig } from "../../model/config.ts";
import { BufferRegistry } from "./buffers.ts";
import type { KernelSource } from "./kernel.ts";
import { FP32_MATMULS, type MatmulFamily } from "./kernels/matmul.ts";
import { LOSS_SCALE, LOSS_SCALE_FLOATS, SCALAR } from "./kernels/optimizer.ts";
import { ParamLayout } from "./layout.ts";
import { type PlanRequest, StepPlan } from "./plan.ts";
import { PlanBuilder } from "./plan-builder.ts";

/**
 * A model's training state on the GPU for the compiled step: parameters, gradients, AdamW
 * moments and every EMA in flat buffers (ParamLayout), the pipelines (one per distinct kernel
 * code) and the step plans (one per sub-network, input side and batch). Weights enter and leave
 * only through `write`/`read`, bit for bit.
 */
export interface CompiledModelOptions {
  readonly emas: number;
  readonly adamw: { beta1: number; beta2: number; epsilon: number; weightDecay: number };
  readonly decayed: (name: string) => boolean;
  /** The matmul kernels (fp32 unless given). */
  readonly matmuls?: MatmulFamily;
  /** Dynamic loss scaling, for f16 matmuls; absent or null: none (fp32). */
  readonly lossScaling?: { readonly growthInterval: number } | null;
}

/** The loss-scale state on the GPU (kernels/optimizer.ts LOSS_SCALE), as the host reads and writes it. */
export interface LossScaleState {
  readonly scale: number;
  /** Clean steps since the scale last changed. */
  readonly cleanSteps: number;
  /** Steps skipped for an inf/NaN gradient or an f16 overflow, in total. */
  readonly skippedSteps: number;
  /** Optimizer updates applied (AdamW's bias correction counts these). */
  readonly appliedUpdates: number;
}

/** PyTorch GradScaler's defaults: 2¹⁶ to start, doubled after 2,000 clean steps. */
export const LOSS_SCALE_DEFAULTS = { initialScale: 2 ** 16, growthInterval: 2000 } as const;

/** What a step reports once the GPU is done. */
export interface CompiledStepResult {
  readonly loss: number;
  readonly correct: number;
  readonly gpuMs: number | null;
  /** With loss scaling: the state after the step and whether the step was skipped. */
  readonly lossScale: (LossScaleState & { readonly skipped: boolean }) | null;
}

/** What a step uploads besides the batch. */
export interface StepScalars {
  readonly lr: number;
  /** The optimizer's update count after this step (1 for the first), for bias correction. */
  readonly optimizerStep: number;
  /** Clipping threshold (the plan must be built with clip on). */
  readonly maxNorm: number | null;
  readonly emaDecays: readonly number[];
}

export interface StepBatch {
  /** [B, side, side, C] at the plan's side. */
  readonly x: Float32Array;
  readonly targets: Float32Array;
  readonly labels: ArrayLike<number>;
  /** [active block, sample] keep factors (1/(1−rate) or 0) when the plan has drop-path. */
  readonly keep?: Float32Array | null;
}

export type FlatBuffer = "params" | "firstMoment" | "secondMoment" | { readonly ema: number };

/** Readbacks kept in flight: a step's loss is read while the next steps run. */
const RING = 4;
/** Bytes of a readback slot: the metrics, then (at 16) the loss-scale state. */
const SLOT_BYTES = 48;
const SLOT_LOSS_SCALE = 16;

export class CompiledModel {
  readonly buffers: BufferRegistry;
  readonly layout: ParamLayout;
  private readonly flat: {
    params: GPUBuffer;
    grads: GPUBuffer;
    firstMoment: GPUBuffer;
    secondMoment: GPUBuffer;
    emas: GPUBuffer | null;
  };
  private readonly lossScaling: { state: GPUBuffer; overflow: GPUBuffer; growthInterval: number } | null;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly plans = new Map<string, StepPlan>();
  private readonly ring: { buffer: GPUBuffer; busy: boolean }[] = [];
  private staging: Float32Array = new Float32Array(0);
  private timing: { querySet: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | null = null;
  /** Host milliseconds of the last step: the upload, then encoding and submitting the pass. */
  readonly lastHostTimes = { uploadMs: 0, encodeSubmitMs: 0 };

  constructor(
    readonly device: GPUDevice,
    readonly config: ViTConfig,
    shapes: Iterable<readonly [string, readonly number[]]>,
    readonly options: CompiledModelOptions,
  ) {
    this.buffers = new BufferRegistry(device);
    this.layout = new ParamLayout(shapes);
    const size = this.layout.size;
    this.flat = {
      params: this.buffers.storage("params", size),
      grads: this.buffers.storage("grads", size),
      firstMoment: this.buffers.storage("adam.m", size),
      secondMoment: this.buffers.storage("adam.v", size),
      emas: options.emas > 0 ? this.buffers.storage("emas", size * options.emas) : null,
    };
    this.lossScaling = options.lossScaling
      ? {
          state: this.buffers.storage("loss-scale", LOSS_SCALE_FLOATS),
          overflow: this.buffers.storage("overflow", 1),
          growthInterval: options.lossScaling.growthInterval,
        }
      : null;
    if (this.lossScaling) {
      this.writeLossScale({
        scale: LOSS_SCALE_DEFAULTS.initialScale,
        cleanSteps: 0,
        skippedSteps: 0,
        appliedUpdates: 0,
      });
    }
    for (let i = 0; i < RING; i++) this.ring.push({ buffer: this.readbackBuffer(i), busy: false });
  }

  /** The step plan of a sub-network, built on first use. */
  plan(request: PlanRequest): StepPlan {
    const key = JSON.stringify(request);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = new StepPlan(
        {
          device: this.device,
          buffers: this.buffers,
          pipeline: (kernel) => this.pipeline(kernel),
          config: this.config,
          layout: this.layout,
          flat: this.flat,
          emaCount: this.options.emas,
          adamw: this.options.adamw,
          decayed: this.options.decayed,
          matmuls: this.options.matmuls ?? FP32_MATMULS,
          lossScaling: this.lossScaling,
        },
        request,
        (steps, context) => new PlanBuilder(steps, context).build(),
      );
      this.plans.set(key, plan);
    }
    return plan;
  }

  get planCount(): number {
    return this.plans.size;
  }

  /** Drops every plan (their activation buffers); the flat buffers stay. */
  dropPlans(): void {
    for (const plan of this.plans.values()) plan.destroy();
    this.plans.clear();
  }

  /** Replaces one flat buffer's values (names absent from `values` become zero). */
  write(target: FlatBuffer, values: ReadonlyMap<string, Float32Array>): void {
    const { buffer, offset } = this.locate(target);
    this.device.queue.writeBuffer(buffer, offset, this.layout.pack(values));
  }

  /** One flat buffer's values by name (waits for the GPU). */
  async read(target: FlatBuffer): Promise<Map<string, Float32Array>> {
    const { buffer, offset } = this.locate(target);
    return this.layout.unpack(await this.buffers.read(buffer, offset, this.layout.size));
  }

  /** Sets the loss-scale state (a fresh run's defaults, or a checkpoint's); a no-op without loss scaling. */
  writeLossScale(state: LossScaleState): void {
    if (!this.lossScaling) return;
    const values = new Float32Array(LOSS_SCALE_FLOATS);
    values[LOSS_SCALE.scale] = state.scale;
    values[LOSS_SCALE.cleanSteps] = state.cleanSteps;
    values[LOSS_SCALE.skippedSteps] = state.skippedSteps;
    values[LOSS_SCALE.appliedUpdates] = state.appliedUpdates;
    this.device.queue.writeBuffer(this.lossScaling.state, 0, values);
  }

  /** The loss-scale state now (waits for the GPU); null without loss scaling. */
  async readLossScale(): Promise<LossScaleState | null> {
    if (!this.lossScaling) return null;
    return lossScaleOf(await this.buffers.read(this.lossScaling.state, 0, LOSS_SCALE_FLOATS));
  }

  /** The gradient of the last step by name (tests). */
  async readGradients(): Promise<Map<string, Float32Array>> {
    return this.layout.unpack(await this.buffers.read(this.flat.grads, 0, this.layout.size));
  }

  /**
   * One training step: one upload, one compute pass, one submit. Resolves with the step's mean
   * loss and correct count once the GPU is done, without holding up the next step.
   */
  step(
    plan: StepPlan,
    batch: StepBatch,
    scalars: StepScalars,
    options: { timed?: boolean } = {},
  ): Promise<CompiledStepResult> {
    const began = performance.now();
    this.upload(plan, batch, scalars);
    const uploaded = performance.now();
    const slot = this.freeSlot();
    slot.busy = true;
    const timing = options.timed ? this.timer() : null;
    const encoder = this.device.createCommandEncoder();
    const scaling = this.lossScaling;
    if (scaling) encoder.clearBuffer(scaling.overflow);
    const pass = encoder.beginComputePass(
      timing
        ? {
            timestampWrites: {
              querySet: timing.querySet,
              beginningOfPassWriteIndex: 0,
              endOfPassWriteIndex: 1,
            },
          }
        : {},
    );
    plan.encode(pass);
    pass.end();
    encoder.copyBufferToBuffer(plan.metrics, 0, slot.buffer, 0, 8);
    if (scaling) {
      encoder.copyBufferToBuffer(scaling.state, 0, slot.buffer, SLOT_LOSS_SCALE, LOSS_SCALE_FLOATS * 4);
    }
    if (timing) {
      encoder.resolveQuerySet(timing.querySet, 0, 2, timing.resolve, 0);
      encoder.copyBufferToBuffer(timing.resolve, 0, timing.read, 0, 16);
    }
    this.device.queue.submit([encoder.finish()]);
    this.lastHostTimes.uploadMs = uploaded - began;
    this.lastHostTimes.encodeSubmitMs = performance.now() - uploaded;
    const read = async () => {
      const invalid = await plan.validation;
      if (invalid) throw new Error(`compiled step: the plan is invalid: ${invalid.message}`);
      await Promise.all([slot.buffer.mapAsync(GPUMapMode.READ), timing?.read.mapAsync(GPUMapMode.READ)]);
      const slotValues = new Float32Array(slot.buffer.getMappedRange().slice(0, SLOT_BYTES));
      slot.buffer.unmap();
      const [loss, correct] = slotValues;
      const scaleState = scaling
        ? slotValues.subarray(SLOT_LOSS_SCALE / 4, SLOT_LOSS_SCALE / 4 + LOSS_SCALE_FLOATS)
        : null;
      slot.busy = false;
      let gpuMs: number | null = null;
      if (timing) {
        const [begin, end] = new BigInt64Array(timing.read.getMappedRange().slice(0, 16));
        timing.read.unmap();
        gpuMs = Number((end as bigint) - (begin as bigint)) / 1e6;
      }
      return {
        loss: loss ?? Number.NaN,
        correct: correct ?? 0,
        gpuMs,
        lossScale: scaleState
          ? { ...lossScaleOf(scaleState), skipped: scaleState[LOSS_SCALE.lastSkipped] === 1 }
          : null,
      };
    };
    return read();
  }

  /** A readback buffer not waiting on a map; a new one when every slot is (callers far behind). */
  private freeSlot(): { buffer: GPUBuffer; busy: boolean } {
    const free = this.ring.find((slot) => !slot.busy);
    if (free) return free;
    const slot = { buffer: this.readbackBuffer(this.ring.length), busy: false };
    this.ring.push(slot);
    return slot;
  }

  private readbackBuffer(index: number): GPUBuffer {
    return this.buffers.create({
      label: `metrics.${index}`,
      size: SLOT_BYTES,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
  }

  /** Encodes a step without submitting or uploading (host-time measurement): returns the command buffer. */
  encodeOnly(plan: StepPlan): GPUCommandBuffer {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    plan.encode(pass);
    pass.end();
    return encoder.finish();
  }

  dispose(): void {
    this.dropPlans();
    const { params, grads, firstMoment, secondMoment, emas } = this.flat;
    this.buffers.destroyAll([params, grads, firstMoment, secondMoment, ...(emas ? [emas] : [])]);
    if (this.lossScaling) this.buffers.destroyAll([this.lossScaling.state, this.lossScaling.overflow]);
    this.buffers.destroyAll(this.ring.map((slot) => slot.buffer));
    if (this.timing) {
      this.timing.querySet.destroy();
      this.buffers.destroyAll([this.timing.resolve, this.timing.read]);
      this.timing = null;
    }
    this.pipelines.clear();
  }

  private upload(plan: StepPlan, batch: StepBatch, scalars: StepScalars): void {
    const { input, request } = plan;
    if (this.staging.length !== input.size) this.staging = new Float32Array(input.size);
    const staging = this.staging;
    const imageFloats = request.batch * request.side * request.side * this.config.channels;
    if (batch.x.length !== imageFloats) {
      throw new Error(
        `compiled step: ${batch.x.length} image floats for a ${request.batch}×${request.side}² batch`,
      );
    }
    staging.set(batch.x, input.images);
    staging.set(batch.targets, input.targets);
    for (let i = 0; i < request.batch; i++) staging[input.labels + i] = batch.labels[i] as number;
    const { beta1, beta2 } = this.options.adamw;
    const at = input.scalars;
    staging[at + SCALAR.lr] = scalars.lr;
    staging[at + SCALAR.correction1] = 1 - beta1 ** scalars.optimizerStep;
    staging[at + SCALAR.correction2] = 1 - beta2 ** scalars.optimizerStep;
    staging[at + SCALAR.maxNorm] = scalars.maxNorm ?? 0;
    scalars.emaDecays.forEach((decay, e) => {
      staging[at + SCALAR.emaDecay + e] = decay;
    });
    if (request.dropPath) {
      if (!batch.keep)
        throw new Error("compiled step: the plan has drop-path but the step brought no keep masks");
      const blocks = plan.activeIndices.length;
      if (batch.keep.length !== blocks * request.batch)
        throw new Error("compiled step: keep masks of another shape");
      for (let k = 0; k < blocks; k++) {
        staging.set(
          batch.keep.subarray(k * request.batch, (k + 1) * request.batch),
          input.keep + k * input.keepStride,
        );
      }
    }
    this.device.queue.writeBuffer(plan.inputBuffer, 0, staging);
  }

  private locate(target: FlatBuffer): { buffer: GPUBuffer; offset: number } {
    if (typeof target === "string") return { buffer: this.flat[target], offset: 0 };
    if (!this.flat.emas || target.ema >= this.options.emas) throw new Error(`no EMA ${target.ema}`);
    return { buffer: this.flat.emas, offset: target.ema * this.layout.size * 4 };
  }

  private pipeline(kernel: KernelSource): GPUComputePipeline {
    const key = `${kernel.entryPoint ?? "main"}\n${kernel.code}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: kernel.label, code: kernel.code });
      pipeline = this.device.createComputePipeline({
        label: kernel.label,
        layout: "auto",
        compute: { module, entryPoint: kernel.entryPoint ?? "main" },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  private timer() {
    if (!this.device.features.has("timestamp-query")) return null;
    this.timing ??= {
      querySet: this.device.createQuerySet({ type: "timestamp", count: 2 }),
      resolve: this.buffers.create({
        label: "timestamps",
        size: 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      read: this.buffers.create({
        label: "timestamps.read",
        size: 16,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      }),
    };
    return this.timing;
  }
}

function lossScaleOf(values: Float32Array): LossScaleState {
  return {
    scale: values[LOSS_SCALE.scale] ?? Number.NaN,
    cleanSteps: values[LOSS_SCALE.cleanSteps] ?? 0,
    skippedSteps: values[LOSS_SCALE.skippedSteps] ?? 0,
    appliedUpdates: values[LOSS_SCALE.appliedUpdates] ?? 0,
  };
}
