import type { TrainingEvent } from "../core/events.ts";
import { isOutOfMemory } from "../core/out-of-memory.ts";
import { type ExperimentSpec, ExperimentSpecSchema } from "../core/spec.ts";
import type { FromTrainer, StartTrainer, TrainerHandle, TrainerJob } from "./protocol.ts";
import { specForTrainer } from "./server-paths.ts";

/**
 * One attempt of one run, the same shell for the embedded dispatcher (src/dispatch/dispatcher.ts)
 * and the pull worker (src/worker/remote-run.ts): the job built from the stored spec (parsed one
 * way), the trainer started in its own process, its events forwarded with their replay keys,
 * every sign of life passed on (the host keeps its lease on it), cancels passed in, and a
 * trainer that stops answering, or does not stop when told to, killed. The host only says where
 * events and lease renewals go.
 */

/** What an attempt is built from: the run as leased, and the spec as stored. */
export interface AttemptInput {
  readonly runId: string;
  readonly attempt: number;
  readonly arm: string;
  readonly seed: number;
  /** The experiment's spec as the API stored it (JSON). */
  readonly storedSpec: unknown;
  /** A relative `dataset.root` resolves against it. */
  readonly dataDir: string;
  readonly checkpointDir: string;
  /** Epochs covered by the checkpoint to resume from (null: start afresh). */
  readonly resumeEpoch: number | null;
  readonly backend: ExperimentSpec["backend"] | null;
  readonly cacheDir: string | null;
  readonly cancelled: boolean;
  readonly paused: boolean;
}

/**
 * The trainer's job, or why there is none: the stored spec is read with today's schema (a spec
 * stored by another version may no longer parse, and then the run fails its set-up rather than
 * train something else than what was asked).
 */
export function trainerJob(input: AttemptInput): { job: TrainerJob } | { problem: string } {
  const parsed = ExperimentSpecSchema.safeParse(input.storedSpec);
  if (!parsed.success) return { problem: `the stored spec cannot be read: ${parsed.error.message}` };
  return {
    job: {
      runId: input.runId,
      attempt: input.attempt,
      spec: specForTrainer(parsed.data, input.dataDir),
      arm: input.arm,
      seed: input.seed,
      checkpointDir: input.checkpointDir,
      resumeEpoch: input.resumeEpoch,
      backend: input.backend,
      cacheDir: input.cacheDir,
      cancelled: input.cancelled,
      paused: input.paused,
    },
  };
}

export interface AttemptOptions {
  readonly startTrainer: StartTrainer;
  /** After a cancel or a stop, the trainer has this long to exit before it is killed. */
  readonly graceMs: number;
  /** A trainer that sends nothing (no step, no heartbeat, no event) for this long hangs: it is killed. */
  readonly silenceMs: number;
  /** Every event, in order, with the replay key the trainer named. */
  readonly onEvent: (event: TrainingEvent, replayKey: string | null) => void;
  /** Any message: the trainer is alive. */
  readonly onAlive?: () => void;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** How an attempt ended. */
export interface AttemptOutcome {
  /** The trainer reported `run.started` (set-up was over). */
  readonly started: boolean;
  /** The trainer reported the run's end (`run.completed` or `run.failed`) or its pause (`run.paused`). */
  readonly reported: boolean;
  /** Why the trainer ended without reporting the run's end; null when it reported it. */
  readonly crash: string | null;
  /** The trainer ran out of memory: another attempt would too. */
  readonly outOfMemory: boolean;
}

/** What an exit code or signal says about how the trainer process ended. */
export function exitReason(code: number | null, signal: string | null): string {
  if (signal === "SIGABRT") return "the trainer process aborted (SIGABRT: a fatal error in native code)";
  if (signal === "SIGKILL")
    return "the trainer process was killed (SIGKILL: out of memory, or killed from outside)";
  if (signal === "SIGSEGV" || signal === "SIGBUS") return `the trainer process crashed (${signal})`;
  if (signal) return `the trainer process ended on ${signal}`;
  return `the trainer process exited with code ${code}`;
}

/**
 * Before `run.started` a trainer may be silent at least this long: it loads Node, the TypeScript
 * loader and tfjs, and compiles the WASM backend, some of it without turning its event loop.
 */
const SETUP_ALLOWANCE_MS = 60_000;

export class TrainerAttempt {
  /** Resolves once the trainer has exited, with how the attempt ended. */
  readonly ended: Promise<AttemptOutcome>;
  private readonly trainer: TrainerHandle;
  private started = false;
  private reported = false;
  private crash: string | null = null;
  private outOfMemory = false;
  /** Set once the host is done with the attempt: what the trainer still sends is dropped. */
  private detached = false;
  private exited = false;
  private lastHeard = Date.now();
  private readonly watchdog: ReturnType<typeof setInterval>;
  private killTimer: ReturnType<typeof setTimeout> | null = null;

  /** Starts the trainer; throws when it cannot be started. */
  constructor(
    readonly job: TrainerJob,
    private readonly options: AttemptOptions,
  ) {
    this.trainer = options.startTrainer(job);
    this.ended = new Promise((resolve) => {
      this.trainer.on("exit", (code, signal) => {
        this.exited = true;
        clearInterval(this.watchdog);
        if (this.killTimer) clearTimeout(this.killTimer);
        if (!this.reported) {
          const words = this.trainer.lastWords?.() ?? null;
          this.crash ??= words ? `${exitReason(code, signal)}: ${words}` : exitReason(code, signal);
          // V8's heap limit ends the process: its last words are the only sign of it.
          this.outOfMemory ||= signal !== null && words !== null && isOutOfMemory({ message: words });
        }
        resolve({
          started: this.started,
          reported: this.reported,
          crash: this.reported ? null : this.crash,
          outOfMemory: this.outOfMemory,
        });
      });
    });
    this.trainer.on("message", (message) => this.onMessage(message));
    this.trainer.on("error", (error: Error & { code?: unknown }) => {
      this.crash ??= `the trainer crashed: ${error.message}`;
      this.outOfMemory ||= isOutOfMemory(error);
    });
    // Checked at a tenth of the silence allowed, so a hang is ended within 110% of it.
    this.watchdog = setInterval(() => this.checkSilence(), Math.max(10, options.silenceMs / 10));
    (this.watchdog as { unref?: () => void }).unref?.();
  }

  /** Asks the trainer to stop at its next step boundary and report the run cancelled; killed after the grace period. */
  cancel(): void {
    if (this.exited) return;
    this.trainer.postMessage({ type: "cancel" });
    this.killAfterGrace("it was cancelled");
  }

  /**
   * Asks the trainer to stop at its next step boundary, save a checkpoint there and report
   * `run.paused`. No grace period: an epoch that trains a supernet is not cut, so the pause may
   * take that epoch's time to land (the trainer keeps sending signs of life meanwhile).
   */
  pause(): void {
    if (!this.exited) this.trainer.postMessage({ type: "pause" });
  }

  /**
   * The host is done with this attempt (shutdown, a lost lease, a failed write): the trainer is
   * stopped (SIGTERM, then SIGKILL after the grace period) and nothing it still sends is passed on.
   */
  terminate(): Promise<AttemptOutcome> {
    this.detached = true;
    if (!this.exited) {
      this.trainer.stop();
      this.killAfterGrace("it was stopped");
    }
    return this.ended;
  }

  private killAfterGrace(why: string): void {
    if (this.killTimer) return;
    this.killTimer = setTimeout(() => {
      if (this.exited) return;
      this.crash ??= `the trainer did not exit within ${this.options.graceMs / 1000} s after ${why}; it was killed`;
      this.options.log?.("the trainer did not exit in time; killing it", { runId: this.job.runId });
      this.trainer.kill();
    }, this.options.graceMs);
  }

  private checkSilence(): void {
    const allowed = this.started
      ? this.options.silenceMs
      : Math.max(this.options.silenceMs, SETUP_ALLOWANCE_MS);
    if (this.exited || Date.now() - this.lastHeard < allowed) return;
    this.crash ??= `the trainer sent nothing for ${allowed / 1000} s (it hangs); it was killed`;
    this.options.log?.("the trainer stopped responding; killing it", { runId: this.job.runId });
    clearInterval(this.watchdog);
    this.trainer.kill();
  }

  private onMessage(message: FromTrainer): void {
    this.lastHeard = Date.now();
    if (this.detached) return;
    if (message.type === "event") {
      const { event } = message;
      if (event.type === "run.started") this.started = true;
      if (event.type === "run.completed" || event.type === "run.failed" || event.type === "run.paused")
        this.reported = true;
      this.options.onEvent(event, message.replayKey);
    } else if (message.type === "finished" && message.crashed !== null) {
      this.crash ??= `the trainer crashed: ${message.crashed}`;
      this.outOfMemory ||= isOutOfMemory({ message: message.crashed });
    }
    this.options.onAlive?.();
  }
}
