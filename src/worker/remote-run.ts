import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { packCheckpoint, unpackCheckpoint } from "../checkpoints/wire.ts";
import { CHECKPOINTS_FOLDER, checkpointDataFile, checkpointMetaFile } from "../core/checkpoint-layout.ts";
import type { TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import { TrainerAttempt, trainerJob } from "../dispatch/attempt.ts";
import { DEFAULT_TRAINER_SILENCE_MS, type StartTrainer, type TrainerJob } from "../dispatch/protocol.ts";
import { eventWithoutDataDir } from "../dispatch/server-paths.ts";
import {
  type Action,
  LeaseLostError,
  type OutgoingEvent,
  type WorkerApi,
  type WorkerLease,
} from "./remote-api.ts";

/** Events are sent in batches: at most this many, or after this delay. */
const BATCH_EVENTS = 50;
const BATCH_DELAY_MS = 250;

export interface RemoteRunOptions {
  readonly api: WorkerApi;
  readonly startTrainer: StartTrainer;
  /** A cancelled or stopped trainer has this long to exit before it is killed. */
  readonly graceMs: number;
  /** A trainer silent this long hangs and is killed (default 120 s). */
  readonly silenceMs?: number;
  /** Relative dataset roots resolve against it; paths under it are not sent to the API. */
  readonly dataDir: string;
  /** This run's scratch folder (its checkpoints); removed when the run is done here. */
  readonly workDir: string;
  readonly backend: ExperimentSpec["backend"] | null;
  readonly cacheDir: string | null;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

/** How a run ended on this worker. */
export type RemoteRunEnd = "reported" | "paused" | "lease_lost" | "stopped" | "crashed";

interface Pending {
  readonly entry: OutgoingEvent;
  /** Resolves once what the event names is on the API (a checkpoint upload). */
  readonly ready: Promise<void>;
}

/**
 * One leased run on a pull worker: fetch the checkpoint, train it through the attempt shell
 * (src/dispatch/attempt.ts, a trainer process), forward its events in batches (each checkpoint
 * uploaded before the event naming it), keep the lease, and obey the API: `cancel` cancels the
 * trainer, `pause` pauses it (its `run.paused` ends the lease), `lease_lost` drops the run.
 */
export class RemoteRun {
  readonly runId: string;
  private readonly token: string;
  private readonly checkpointDir: string;
  private attempt: TrainerAttempt | null = null;
  private readonly pending: Pending[] = [];
  private sending: Promise<void> = Promise.resolve();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private nextSeq = 0;
  private end: RemoteRunEnd | null = null;
  private sawStarted = false;
  private sawTerminal = false;
  /** The trainer reported `run.paused`: the API ends the lease with it. */
  private sawPaused = false;
  /** Why the attempt ended without a result: set-up's error, or the trainer's. */
  private crash: string | null = null;
  private readonly exited: Promise<void>;
  private onExit: () => void = () => {};

  constructor(
    private readonly grant: WorkerLease,
    private readonly options: RemoteRunOptions,
  ) {
    this.runId = grant.run.id;
    this.token = grant.lease.token;
    this.checkpointDir = join(options.workDir, CHECKPOINTS_FOLDER);
    this.exited = new Promise((resolve) => {
      this.onExit = resolve;
    });
  }

  /** Trains the run until it is reported, lost or stopped; never throws. */
  async run(): Promise<RemoteRunEnd> {
    const { log } = this.options;
    try {
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), (this.grant.lease.seconds * 1000) / 3);
      await this.setUp();
      await this.exited;
      if (!this.sawTerminal && !this.sawPaused && this.end === null) this.reportCrash();
      await this.flush();
      this.end ??= this.sawTerminal ? "reported" : this.sawPaused ? "paused" : "crashed";
    } catch (error) {
      this.end ??= error instanceof LeaseLostError ? "lease_lost" : "crashed";
      log("the run could not go on here", { runId: this.runId, error: String(error) });
      await this.attempt?.terminate();
    } finally {
      this.stopTimers();
      await rm(this.options.workDir, { recursive: true, force: true });
    }
    // A crash without a terminal event: the lease runs out and the API re-queues the run (the attempt counts).
    log("run done here", { runId: this.runId, attempt: this.grant.run.attempt, end: this.end });
    return this.end;
  }

  /**
   * Shutdown: stops the trainer (work since its last epoch checkpoint is redone), sends the
   * events it produced, and hands the run back without using an attempt.
   */
  async stop(): Promise<void> {
    if (this.end) return;
    this.end = "stopped";
    await this.attempt?.terminate();
    this.onExit();
    try {
      await this.flush();
      await this.options.api.release(this.runId, this.token);
    } catch (error) {
      this.options.log("could not hand the run back; its lease will expire", {
        runId: this.runId,
        error: String(error),
      });
    }
  }

  /** Fetches the checkpoint and starts the trainer; a failure here ends the attempt with its record. */
  private async setUp(): Promise<void> {
    try {
      const job = await this.prepare();
      if (job) this.startAttempt(job);
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      this.crash = `the run could not be set up here: ${error instanceof Error ? error.message : String(error)}`;
      this.onExit();
    }
  }

  /** The job, and the checkpoint to resume from in the scratch folder; null after a failed set-up was reported. */
  private async prepare(): Promise<TrainerJob | null> {
    await mkdir(this.checkpointDir, { recursive: true });
    if (this.grant.checkpoint) {
      const { epoch } = this.grant.checkpoint;
      const body = await this.options.api.getCheckpoint(this.runId, epoch, this.token);
      const { meta, data } = unpackCheckpoint(body);
      await writeFile(join(this.checkpointDir, checkpointDataFile(epoch)), data);
      await writeFile(join(this.checkpointDir, checkpointMetaFile(epoch)), meta);
    }
    const built = trainerJob({
      runId: this.runId,
      attempt: this.grant.run.attempt,
      arm: this.grant.run.arm,
      seed: this.grant.run.seed,
      storedSpec: this.grant.spec,
      dataDir: this.options.dataDir,
      checkpointDir: this.checkpointDir,
      resumeEpoch: this.grant.checkpoint?.epoch ?? null,
      backend: this.options.backend,
      cacheDir: this.options.cacheDir,
      cancelled: false,
      // A pause asked before this lease reaches it at the first heartbeat or event batch.
      paused: false,
    });
    if ("job" in built) return built.job;
    this.enqueue(
      { type: "run.failed", reason: "failed_setup", message: built.problem, epoch: null, step: null },
      null,
    );
    this.onExit();
    return null;
  }

  private startAttempt(job: TrainerJob): void {
    const attempt = new TrainerAttempt(job, {
      startTrainer: this.options.startTrainer,
      graceMs: this.options.graceMs,
      silenceMs: this.options.silenceMs ?? DEFAULT_TRAINER_SILENCE_MS,
      onEvent: (event, replayKey) => this.enqueue(event, replayKey),
      log: this.options.log,
    });
    this.attempt = attempt;
    void attempt.ended.then((outcome) => {
      // A trainer this worker stopped (shutdown, a lost lease) did not crash.
      if (outcome.crash !== null && this.end === null) {
        this.crash ??= outcome.crash;
        this.options.log("trainer crashed", { runId: this.runId, error: outcome.crash });
      }
      this.onExit();
    });
  }

  /**
   * The trainer ended without a terminal event: the attempt's record says so (in set-up, before
   * `run.started`, or later). The lease then runs out and the API re-queues the run, the attempt
   * counted.
   */
  private reportCrash(): void {
    this.enqueue(
      {
        type: "attempt.failed",
        reason: this.sawStarted ? "error" : "failed_setup",
        message: this.crash ?? "the trainer ended without a result",
        epoch: null,
        step: null,
      },
      null,
    );
  }

  private enqueue(event: TrainingEvent, replayKey: string | null): void {
    if (this.end === "lease_lost") return;
    const { dataDir, workDir } = this.options;
    const clean = eventWithoutDataDir(eventWithoutDataDir(event, workDir), dataDir);
    if (event.type === "run.started") this.sawStarted = true;
    if (event.type === "run.completed" || event.type === "run.failed") this.sawTerminal = true;
    if (event.type === "run.paused") this.sawPaused = true;
    const ready = event.type === "checkpoint.saved" ? this.upload(event.epoch) : Promise.resolve();
    // A failed upload fails the batch that carries its event, not the process.
    ready.catch(() => undefined);
    this.pending.push({ entry: { seq: this.nextSeq++, event: clean, replayKey }, ready });
    if (this.pending.length >= BATCH_EVENTS) this.scheduleFlush(0);
    else this.scheduleFlush(BATCH_DELAY_MS);
  }

  /** Read at once: the trainer keeps only its newest checkpoints and writes the next within an epoch. */
  private async upload(epoch: number): Promise<void> {
    const [meta, data] = await Promise.all([
      readFile(join(this.checkpointDir, checkpointMetaFile(epoch))),
      readFile(join(this.checkpointDir, checkpointDataFile(epoch))),
    ]);
    await this.options.api.putCheckpoint(this.runId, epoch, this.token, packCheckpoint({ meta, data }));
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushTimer && delayMs > 0) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush().catch(() => undefined);
    }, delayMs);
  }

  /** Sends everything queued so far, in order, one batch at a time. */
  private flush(): Promise<void> {
    this.sending = this.sending.then(async () => {
      while (this.pending.length > 0 && this.end !== "lease_lost") {
        const batch = this.pending.slice(0, BATCH_EVENTS);
        try {
          for (const item of batch) await item.ready;
          const result = await this.options.api.postEvents(
            this.runId,
            this.token,
            batch.map((item) => item.entry),
          );
          this.pending.splice(0, batch.length);
          this.obey(result.action);
        } catch (error) {
          this.fail(error);
          throw error;
        }
      }
    });
    return this.sending;
  }

  private async heartbeat(): Promise<void> {
    if (this.end) return;
    try {
      this.obey(await this.options.api.heartbeat(this.runId, this.token));
    } catch (error) {
      this.fail(error);
    }
  }

  private obey(action: Action): void {
    if (action === "cancel") this.attempt?.cancel();
    else if (action === "pause") this.attempt?.pause();
  }

  /** The lease is gone, or the API stayed out of reach past every retry: this worker drops the run. */
  private fail(error: unknown): void {
    if (this.end) return;
    this.end = error instanceof LeaseLostError ? "lease_lost" : "crashed";
    this.options.log(
      error instanceof LeaseLostError
        ? "lost the lease; the trainer stops"
        : "the API failed; the run is dropped",
      {
        runId: this.runId,
        error: String(error),
      },
    );
    this.pending.splice(0);
    this.stopTimers();
    void this.attempt?.terminate();
    this.onExit();
  }

  private stopTimers(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.heartbeatTimer = null;
    this.flushTimer = null;
  }
}
