import * as tf from "@tensorflow/tfjs";
import {
  type ComputeDevice,
  type ComputePrecision,
  describeMatmulFamily,
  requestComputeDevice,
} from "../backend/compiled/device.ts";
import { keepMasks } from "../backend/compiled/inputs.ts";
import { CompiledModel, LOSS_SCALE_DEFAULTS } from "../backend/compiled/model.ts";
import { resizeBilinear } from "../data/bilinear.ts";
import type { BatchArrays } from "./batch-tensors.ts";
import { FlatLayout } from "./flat.ts";
import type { ModelState } from "./state.ts";
import type { StepOptions, StepResult } from "./step.ts";

/**
 * The webgpu backend's training step: the compiled plan (src/backend/compiled) instead of one
 * tfjs dispatch per op. The GPU arena is a working copy of the state for the length of an epoch:
 * `load` puts the state's weights, EMAs and AdamW moments in it (rebuilding it when a growth
 * changed the weight set), steps run on it, and `store` writes everything back into the tfjs
 * state before anything else reads it (evaluation, checkpoints, growth, search). Both copies are
 * bit for bit, so a checkpoint taken after `store` resumes exactly.
 *
 * In mixed precision the matmuls take f16 inputs (the family the adapter offers) and the loss is
 * scaled dynamically on the GPU: the scale, its clean-step count, the skipped steps and AdamW's
 * applied-update count live in the arena too, and `store` writes them into the state (a skipped
 * step is no optimizer update, so the state's optimizer step comes from the GPU's count).
 */
export class CompiledSteps {
  private model: CompiledModel | null = null;
  private key = "";
  readonly device: GPUDevice;
  /** What the steps train in: "mixed" only where the adapter has f16 matmuls to give. */
  readonly precision: ComputePrecision;

  constructor(
    readonly compute: ComputeDevice,
    /** Clean steps before the loss scale doubles (tests shorten it). */
    readonly growthInterval: number = LOSS_SCALE_DEFAULTS.growthInterval,
  ) {
    this.device = compute.device;
    this.precision = compute.matmuls.kind === "fp32" ? "fp32" : "mixed";
  }

  /** On the webgpu backend (unless AUTOPROG_COMPILED_STEP=0): a device of the same adapter. */
  static async forBackend(
    backend: string,
    precision: ComputePrecision = "fp32",
  ): Promise<CompiledSteps | null> {
    if (backend !== "webgpu" || process.env.AUTOPROG_COMPILED_STEP === "0") return null;
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    const compute = gpu ? await requestComputeDevice(gpu, precision) : null;
    return compute ? new CompiledSteps(compute) : null;
  }

  /** Which matmul kernels ran and what the device was asked for (the backend report). */
  get report(): { precision: ComputePrecision; matmuls: string; deviceFeatures: string[] } {
    return {
      precision: this.precision,
      matmuls: describeMatmulFamily(this.compute.matmuls),
      deviceFeatures: [...this.compute.features],
    };
  }

  /** GPU buffers alive (weights arena, plans, readbacks). */
  get liveBuffers(): number {
    return this.model?.buffers.liveCount ?? 0;
  }

  get planCount(): number {
    return this.model?.planCount ?? 0;
  }

  async load(state: ModelState): Promise<void> {
    const shapes = [...state.weights].map(([name, w]) => [name, w.shape] as const);
    const key = `${new FlatLayout(shapes).key}|${state.emas.length}`;
    if (key !== this.key || !this.model) {
      this.model?.dispose();
      const { options } = state.optimizer;
      this.model = new CompiledModel(this.device, state.config, shapes, {
        emas: state.emas.length,
        adamw: options,
        decayed: options.decayed,
        matmuls: this.compute.matmuls,
        lossScaling: this.precision === "mixed" ? { growthInterval: this.growthInterval } : null,
      });
      this.key = key;
    }
    const model = this.model;
    model.write("params", await hostValues(state.weights));
    for (const [e, ema] of state.emas.entries()) model.write({ ema: e }, await hostValues(ema.weights));
    const moments = state.optimizer.moments();
    try {
      model.write("firstMoment", await hostValues(moments.first));
      model.write("secondMoment", await hostValues(moments.second));
    } finally {
      tf.dispose([...moments.first.values(), ...moments.second.values()]);
    }
    if (this.precision === "mixed") {
      model.writeLossScale({
        scale: state.lossScale?.scale ?? LOSS_SCALE_DEFAULTS.initialScale,
        cleanSteps: state.lossScale?.cleanSteps ?? 0,
        skippedSteps: state.lossScale?.skippedSteps ?? 0,
        appliedUpdates: state.optimizer.step,
      });
    }
  }

  async store(state: ModelState): Promise<void> {
    const model = this.requireModel();
    const shapeOf = (name: string) => state.weights.get(name)?.shape ?? [];
    const tensors = (values: Map<string, Float32Array>) =>
      new Map([...values].map(([name, v]) => [name, tf.tensor(v, shapeOf(name), "float32")]));
    for (const [name, values] of await model.read("params")) {
      const variable = state.weights.get(name);
      if (!variable) throw new Error(`compiled step: the state lost the weight ${name}`);
      const value = tf.tensor(values, variable.shape, "float32");
      variable.assign(value);
      value.dispose();
    }
    for (const [e, ema] of state.emas.entries()) {
      const weights = tensors(await model.read({ ema: e }));
      ema.replace(weights);
      tf.dispose([...weights.values()]);
    }
    const first = tensors(await model.read("firstMoment"));
    const second = tensors(await model.read("secondMoment"));
    state.optimizer.loadMoments(FlatLayout.of(state.weights), first, second);
    tf.dispose([...first.values(), ...second.values()]);
    const scale = await model.readLossScale();
    if (scale) {
      state.lossScale = {
        scale: scale.scale,
        cleanSteps: scale.cleanSteps,
        skippedSteps: scale.skippedSteps,
      };
      state.optimizer.step = scale.appliedUpdates;
    }
  }

  /** One step of the loaded state; bumps the optimizer's update count as AdamW.apply does. */
  step(state: ModelState, batch: BatchArrays, options: StepOptions): Promise<StepResult> {
    const model = this.requireModel();
    const plan = model.plan({
      activeBlocks: options.activeBlocks,
      side: options.side,
      batch: batch.size,
      dropPath: options.dropPath !== null,
      clip: options.gradClipNorm !== null,
      labelSmoothing: options.labelSmoothing,
    });
    // With loss scaling the GPU counts the updates it applies (a skipped step is none); `store` reads it.
    const scaled = this.precision === "mixed";
    if (!scaled) state.optimizer.step += 1;
    const result = model.step(
      plan,
      {
        x: atSide(batch, options.side),
        targets: batch.targets,
        labels: batch.labels,
        keep: options.dropPath ? keepMasks(batch.size, options.activeBlocks, options.dropPath) : null,
      },
      {
        lr: options.lr,
        optimizerStep: scaled ? 0 : state.optimizer.step,
        maxNorm: options.gradClipNorm,
        emaDecays: state.emas.map((ema) => ema.decay),
      },
    );
    return result.then(({ loss, correct, lossScale }) =>
      lossScale
        ? { loss, correct, skipped: lossScale.skipped, lossScale: lossScale.scale }
        : { loss, correct },
    );
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
    this.key = "";
  }

  private requireModel(): CompiledModel {
    if (!this.model) throw new Error("compiled step: no state loaded");
    return this.model;
  }
}

async function hostValues(tensors: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, Float32Array>> {
  const values = new Map<string, Float32Array>();
  for (const [name, tensor] of tensors) values.set(name, (await tensor.data()) as Float32Array);
  return values;
}

/** The batch's images at the pass's side: the same bilinear down-sampling as the tfjs path. */
function atSide(batch: BatchArrays, side: number): Float32Array {
  if (batch.side === side) return batch.x;
  const { size, channels } = batch;
  const inner = batch.side * batch.side * channels;
  const out = new Float32Array(size * side * side * channels);
  for (let b = 0; b < size; b++) {
    resizeBilinear(
      batch.x.subarray(b * inner, (b + 1) * inner),
      batch.side,
      batch.side,
      channels,
      side,
      side,
      out,
      b * side * side * channels,
    );
  }
  return out;
}
