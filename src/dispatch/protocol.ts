import type { TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";

/**
 * The transport between the dispatcher and a trainer: what a trainer is started with and the
 * messages both ways. Today's transport is a worker thread (src/worker/); a remote pull worker
 * speaks the same messages over HTTP.
 */
export interface TrainerJob {
  readonly runId: string;
  readonly attempt: number;
  readonly spec: ExperimentSpec;
  /** The arm's name within the spec (its label, or its kind when unlabelled). */
  readonly arm: string;
  readonly seed: number;
  /** Epoch checkpoints go here; a new attempt resumes from the newest one the log knows of. */
  readonly checkpointDir: string;
  /**
   * Epochs covered by the newest `checkpoint.saved` in the run's log (null: none). A checkpoint
   * on disk past it was written by an attempt whose events did not all reach the log; resuming
   * from it would leave a gap, so the trainer shell discards it.
   */
  readonly resumeEpoch: number | null;
  readonly backend: ExperimentSpec["backend"] | null;
  readonly cacheDir: string | null;
  /** Cancelled before the thread started: stop at the first step boundary. */
  readonly cancelled: boolean;
}

export type ToTrainer = { readonly type: "cancel" };

export type FromTrainer =
  /** The producer names the event's place in its stream (src/events/replay-key.ts). */
  | { readonly type: "event"; readonly event: TrainingEvent; readonly replayKey: string | null }
  /** A training step finished: the trainer is alive (the dispatcher extends the lease on it). */
  | { readonly type: "progress" }
  /** The trainer returned or threw; `crashed` is set when it threw something other than a run failure. */
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
