import type { ViTConfig } from "../../model/config.ts";
import type { BatchArrays } from "../batch-tensors.ts";

/** Messages between the trainer and its gradient threads (data-parallel steps). */
export interface InitMessage {
  readonly type: "init";
  readonly config: ViTConfig;
  readonly backend: "tensorflow" | "webgpu" | "wasm" | "cpu";
}

/** A shard of a batch, as typed arrays (structured-clone friendly). */
export type ShardData = BatchArrays;

export interface GradientRequest {
  readonly type: "gradients";
  readonly id: number;
  /** Names and shapes of all weights (the flat layout), in the order of `weights` and of the reply's `grads`. */
  readonly names: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  readonly weights: Float32Array;
  readonly shard: ShardData;
  readonly side: number;
  readonly activeBlocks: readonly boolean[];
  readonly labelSmoothing: number;
  readonly dropPath: { readonly rate: number; readonly seed: number } | null;
}

export interface GradientReply {
  readonly type: "gradients";
  readonly id: number;
  /** The shard's gradient over the whole flat layout (zeros for inactive blocks). */
  readonly grads: Float32Array;
  /** Mean loss over the shard and its number of correct top-1 predictions. */
  readonly loss: number;
  readonly correct: number;
}

export type ToGradientThread = InitMessage | GradientRequest;
export type FromGradientThread =
  | GradientReply
  | { readonly type: "ready" }
  | { readonly type: "error"; readonly message: string };
