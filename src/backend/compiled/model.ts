import type { ViTConfig } from "../../model/config.ts";
import { BufferRegistry } from "./buffers.ts";
import type { KernelSource } from "./kernel.ts";
import { SCALAR } from "./kernels/optimizer.ts";
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
  ): Promise<{
    loss: number;
    correct: number;
    gpuMs: number | null;
  }> {
    const began = performance.now();
    this.upload(plan, batch, scalars);
    const uploaded = performance.now();
    const slot = this.freeSlot();
    slot.busy = true;
    const timing = options.timed ? this.timer() : null;
    const encoder = this.device.createCommandEncoder();
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
      const [loss, correct] = new Float32Array(slot.buffer.getMappedRange().slice(0, 8));
      slot.buffer.unmap();
      slot.busy = false;
      let gpuMs: number | null = null;
      if (timing) {
        const [begin, end] = new BigInt64Array(timing.read.getMappedRange().slice(0, 16));
        timing.read.unmap();
        gpuMs = Number((end as bigint) - (begin as bigint)) / 1e6;
      }
      return { loss: loss ?? Number.NaN, correct: correct ?? 0, gpuMs };
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
      size: 16,
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
