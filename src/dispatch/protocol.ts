import type { TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";

/**
 * The transport between the attempt shell (src/dispatch/attempt.ts) and a trainer: what a trainer
 * is started with and the messages both ways. Every trainer runs in a child process of its own
 * (src/worker/trainer-process.ts), so a native abort, a segfault or an out-of-memory kill ends
 * that attempt and nothing else.
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
  /** Cancelled before the trainer started: stop at the first step boundary. */
  readonly cancelled: boolean;
  /** Paused before the trainer started (asked while another attempt had it): pause at the first step boundary. */
  readonly paused: boolean;
}

export type ToTrainer =
  /** The first message: the job to train. */
  | { readonly type: "start"; readonly job: TrainerJob }
  /** Stop at the next step boundary and report the run cancelled. */
  | { readonly type: "cancel" }
  /** Stop at the next step boundary with a checkpoint there and report `run.paused`. */
  | { readonly type: "pause" };

export type FromTrainer =
  /** The producer names the event's place in its stream (src/events/replay-key.ts). */
  | { readonly type: "event"; readonly event: TrainingEvent; readonly replayKey: string | null }
  /** A step finished, or the trainer's idle heartbeat: it is alive (the lease is kept on it). */
  | { readonly type: "progress" }
  /** The trainer returned or threw; `crashed` is set when it threw something other than a run failure. */
  | { readonly type: "finished"; readonly crashed: string | null };

/**
 * One running trainer as its host sees it (a child process; tests pass a fake). `exit` comes
 * once, with the exit code or the signal that ended it.
 */
export interface TrainerHandle {
  on(event: "message", listener: (message: FromTrainer) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "exit", listener: (code: number | null, signal: string | null) => void): unknown;
  postMessage(message: ToTrainer): void;
  /** Asks the trainer to stop at its next step boundary without a report (SIGTERM). */
  stop(): void;
  /** Ends it at once (SIGKILL): it no longer answers, or its grace period is over. */
  kill(): void;
  /** The last line the trainer wrote to stderr (a native FATAL ERROR says why it aborted); null: none. */
  lastWords?(): string | null;
}

/** A trainer silent this long (no step, no event, no heartbeat) hangs, by default. */
export const DEFAULT_TRAINER_SILENCE_MS = 120_000;
/** A trainer told to stop has this long to exit before it is killed, by default. */
export const DEFAULT_TRAINER_GRACE_MS = 10_000;

export type StartTrainer = (job: TrainerJob) => TrainerHandle;
