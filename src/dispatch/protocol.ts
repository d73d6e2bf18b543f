import type { TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";

/** What a trainer thread is started with (structured-cloned as workerData). */
export interface TrainerJob {
  readonly runId: string;
  readonly spec: ExperimentSpec;
  /** The arm's name within the spec (its label, or its kind when unlabelled). */
  readonly arm: string;
  readonly seed: number;
  /** Epoch checkpoints go here; a new attempt resumes from the newest. */
  readonly checkpointDir: string;
  readonly backend: ExperimentSpec["backend"] | null;
  readonly cacheDir: string | null;
  /** Cancelled before the thread started: stop at the first step boundary. */
  readonly cancelled: boolean;
}

export type ToTrainer = { readonly type: "cancel" };

export type FromTrainer =
  | { readonly type: "event"; readonly event: TrainingEvent }
  /** The trainer returned or threw; `message` is set when it threw something other than a run failure. */
  | { readonly type: "finished"; readonly crashed: string | null };

/** The part of a worker_threads Worker the dispatcher uses (tests pass a fake). */
export interface TrainerThread {
  on(event: "message", listener: (message: FromTrainer) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "exit", listener: (code: number) => void): unknown;
  postMessage(message: ToTrainer): void;
  terminate(): Promise<number>;
}

export type StartTrainer = (job: TrainerJob) => TrainerThread;
