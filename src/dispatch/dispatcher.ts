import type { Db } from "../../db/database.ts";
import { getExperiment } from "../../db/experiments.ts";
import { getRun, type RunRow, trainingSpecOf } from "../../db/runs.ts";
import { runCheckpointsPath } from "../core/checkpoint-layout.ts";
import type { FailureReason } from "../core/events.ts";
import { isOutOfMemory } from "../core/out-of-memory.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import type { EventSink } from "../events/sink.ts";
import { sleep } from "../kit/sleep.ts";
import { WakeLoop } from "../kit/wake-loop.ts";
import type { RunControl } from "./control.ts";
import type { FromTrainer, StartTrainer, TrainerJob, TrainerThread } from "./protocol.ts";
import { type AttemptEnd, DEFAULT_LEASE_MS, type RunQueue, sqlRunQueue } from "./queue.ts";
import { expiredRunEnd } from "./reaper.ts";
import { eventWithoutDataDir, specForTrainer, withoutDataDir } from "./server-paths.ts";

export interface DispatcherOptions {
  readonly db: Db;
  readonly sink: EventSink;
  /** Starts a trainer for one attempt: the transport (worker threads on Node). */
  readonly startTrainer: StartTrainer;
  /** Runs trained at once; 0 = this process only serves the API (it still sweeps leases). */
  readonly concurrency: number;
  /** Starts allowed per run before an interrupted run is failed instead of re-queued. */
  readonly maxAttempts: number;
  /** Checkpoints go to `<dataDir>/runs/<run id>/checkpoints`. */
  readonly dataDir: string;
  /** A lease lasts this long past the trainer's last sign of life (default DEFAULT_LEASE_MS). */
  readonly leaseMs?: number;
  /** Defaults to the SQL queue over `db`. */
  readonly queue?: RunQueue;
  /** The SQL queue's per-project quota of running runs; null or absent: none. */
  readonly projectMaxRunning?: number | null;
  /** This dispatcher's name on its leases (default: a random UUID). */
  readonly owner?: string;
  readonly backend?: ExperimentSpec["backend"] | null;
  readonly cacheDir?: string | null;
  readonly clock?: () => number;
  /** Called once a run this dispatcher handled is terminal (Node prunes its checkpoints). */
  readonly onRunFinished?: (runId: string) => Promise<void>;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

interface ActiveRun {
  readonly run: RunRow;
  readonly thread: TrainerThread;
  /** The trainer reported `run.started`: set-up is over. */
  started: boolean;
  lastHeartbeat: number;
  error: string | null;
  /** The trainer ran out of memory: the run fails now instead of being tried again. */
  outOfMemory: boolean;
}

/**
 * Takes runs from the queue, a configurable number at a time, and trains each through the
 * transport so the HTTP loop never waits on tensor work. Every run it trains is leased: the
 * lease is extended while the trainer shows signs of life (events, steps), and a sweep re-queues
 * runs whose lease expired — left by a crashed process, a stalled trainer or another server —
 * so no run stays `running` forever and two servers never train the same run.
 */
export class Dispatcher implements RunControl {
  private readonly active = new Map<string, ActiveRun>();
  private readonly queue: RunQueue;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<DispatcherOptions["log"]>;
  /** Takes runs from the queue while there is room; woken by every change that may make room. */
  private readonly pumpLoop = new WakeLoop(() => this.pump(), {
    onError: (error) => this.log("dispatch failed", { error: String(error) }),
  });
  private stopped = false;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: DispatcherOptions) {
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.queue =
      options.queue ??
      sqlRunQueue(options.db, {
        leaseMs: this.leaseMs,
        maxAttempts: options.maxAttempts,
        projectMaxRunning: options.projectMaxRunning ?? null,
      });
    this.owner = options.owner ?? crypto.randomUUID();
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  /** Sweeps expired leases, starts taking runs, and sweeps again every half lease. */
  async start(): Promise<void> {
    await this.sweep();
    this.sweeper = setInterval(() => this.track(this.tick()), this.leaseMs / 2);
    // The sweep alone must not keep a process alive (Node's timers have unref).
    (this.sweeper as { unref?: () => void }).unref?.();
    this.wake();
  }

  /**
   * Every half lease: keeps the leases of trainers still in set-up (loading a dataset sends no
   * step; a set-up that hangs is ended by a cancel), then sweeps.
   */
  private async tick(): Promise<void> {
    for (const active of this.active.values()) if (!active.started) this.heartbeat(active);
    await this.sweep();
  }

  /** Re-queues runs whose lease expired and ends those out of attempts or cancelled. */
  async sweep(): Promise<void> {
    const { requeued, toEnd } = await this.queue.sweep(this.clock());
    for (const run of requeued) {
      const mine = this.active.get(run.id);
      // Our own trainer stalled past its lease: it no longer owns the run.
      if (mine) this.forget(mine);
      this.log("re-queued an interrupted run", { runId: run.id, attempt: run.attempt });
    }
    for (const run of toEnd) {
      const mine = this.active.get(run.id);
      if (mine) this.forget(mine);
      const { reason, message } = expiredRunEnd(run);
      await this.endRun(run, reason, message);
    }
    if (requeued.length > 0) this.wake();
  }

  wake(): void {
    this.pumpLoop.wake();
  }

  async cancel(runId: string): Promise<void> {
    const active = this.active.get(runId);
    if (active?.started) {
      active.thread.postMessage({ type: "cancel" });
      return;
    }
    if (active) {
      // Still in set-up (a dataset read may block for good): stop the trainer from here.
      this.forget(active);
      await this.endRun(active.run, "cancelled", "the run was cancelled during set-up");
      this.wake();
      return;
    }
    const run = await getRun(this.options.db, runId);
    if (run?.state === "queued" && run.cancelRequested) {
      await this.endRun(run, "cancelled", "the run was cancelled before it started");
    }
  }

  /** Resolves when nothing is training and nothing is being taken from the queue. */
  async idle(): Promise<void> {
    while (this.pumpLoop.running || this.pending.size > 0 || this.active.size > 0) {
      await Promise.all([this.pumpLoop.running, ...this.pending]);
      if (this.active.size > 0) await sleep(20);
    }
  }

  /** Clean shutdown: stops the trainers and hands their runs back to the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await this.pumpLoop.stop();
    const runs = [...this.active.values()];
    await Promise.all(runs.map((active) => this.endAttempt(active, "shutdown", "the server stopped")));
    await Promise.all(this.pending);
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => this.log("dispatch failed", { error: String(error) }))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async pump(): Promise<void> {
    const { concurrency } = this.options;
    while (!this.stopped && this.active.size < concurrency) {
      const run = await this.queue.claim(this.owner, this.clock());
      if (!run) return;
      await this.launch(run);
    }
  }

  private async launch(run: RunRow): Promise<void> {
    const experiment = await getExperiment(this.options.db, run.experimentId);
    if (!experiment) {
      await this.endRun(run, "failed_setup", `experiment ${run.experimentId} is missing`);
      return;
    }
    const job: TrainerJob = {
      runId: run.id,
      attempt: run.attempt,
      spec: specForTrainer(trainingSpecOf(run, experiment), this.options.dataDir),
      arm: run.label,
      seed: run.seed,
      checkpointDir: `${this.options.dataDir}/${runCheckpointsPath(run.id)}`,
      resumeEpoch: run.checkpointEpoch,
      backend: this.options.backend ?? null,
      cacheDir: this.options.cacheDir ?? null,
      cancelled: run.cancelRequested,
    };
    let thread: TrainerThread;
    try {
      thread = this.options.startTrainer(job);
    } catch (error) {
      await this.endRun(run, "failed_setup", `could not start a trainer: ${String(error)}`);
      return;
    }
    const active: ActiveRun = {
      run,
      thread,
      started: false,
      lastHeartbeat: this.clock(),
      error: null,
      outOfMemory: false,
    };
    this.active.set(run.id, active);
    this.log("run started", { runId: run.id, attempt: run.attempt });
    thread.on("message", (message: FromTrainer) => this.onMessage(active, message));
    thread.on("error", (error: Error & { code?: unknown }) => {
      active.error = error.message;
      active.outOfMemory ||= isOutOfMemory(error);
    });
    thread.on("exit", (code: number) => this.track(this.onExit(active, code)));
  }

  private onMessage(active: ActiveRun, message: FromTrainer): void {
    if (this.active.get(active.run.id) !== active) return;
    if (message.type === "event") {
      if (message.event.type === "run.started") active.started = true;
      this.options.sink
        .record(
          active.run.id,
          active.run.attempt,
          eventWithoutDataDir(message.event, this.options.dataDir),
          message.replayKey,
        )
        .catch((error: unknown) => {
          // Nothing is dropped: the attempt ends and the run resumes from the log's checkpoint.
          this.log("could not store an event; the attempt ends", {
            runId: active.run.id,
            error: String(error),
          });
          this.track(
            this.endAttempt(active, "event_write_failed", `an event could not be stored: ${String(error)}`),
          );
        });
    } else if (message.type === "finished") {
      active.error = message.crashed;
      active.outOfMemory ||= message.crashed !== null && isOutOfMemory({ message: message.crashed });
      // The thread has nothing left to do; end it rather than wait for its handles to close.
      void active.thread.terminate();
      return;
    }
    this.heartbeat(active);
  }

  /** Extends the lease at most every quarter lease; a lost lease stops the trainer. */
  private heartbeat(active: ActiveRun): void {
    const now = this.clock();
    if (now - active.lastHeartbeat < this.leaseMs / 4) return;
    active.lastHeartbeat = now;
    this.track(
      this.queue.heartbeat(active.run.id, this.owner, now).then(({ held, cancelRequested }) => {
        if (!held) {
          this.log("lost the lease of a run; its trainer stops", { runId: active.run.id });
          this.forget(active);
        } else if (cancelRequested) {
          active.thread.postMessage({ type: "cancel" });
        }
      }),
    );
  }

  private async onExit(active: ActiveRun, code: number): Promise<void> {
    if (this.active.get(active.run.id) !== active) return;
    await this.options.sink.drained(active.run.id);
    const now = await getRun(this.options.db, active.run.id);
    if (now?.state === "running" && now.leaseOwner === this.owner) {
      const why = active.error ?? `the trainer thread exited with code ${code}`;
      if (active.outOfMemory && !now.cancelRequested) {
        // Another attempt would run out of memory again, and take the host's memory with it.
        this.forget(active);
        await this.endRun(now, "out_of_memory", `the trainer ran out of memory: ${why}`);
        this.log("run ended", { runId: active.run.id, state: "failed", reason: "out_of_memory" });
      } else {
        // The trainer ended without a terminal event: a crash of this attempt.
        await this.endAttempt(active, "crashed", why);
      }
    } else {
      this.active.delete(active.run.id);
      this.log("run ended", { runId: active.run.id, state: now?.state });
      await this.options.onRunFinished?.(active.run.id);
    }
    this.wake();
  }

  /** Ends an attempt its trainer did not end: back to the queue, or failed when out of attempts. */
  private async endAttempt(active: ActiveRun, end: AttemptEnd, why: string): Promise<void> {
    if (this.active.get(active.run.id) !== active) return;
    this.forget(active);
    await this.options.sink.drained(active.run.id);
    const { run } = active;
    const now = await getRun(this.options.db, run.id);
    if (now?.state !== "running" || now.leaseOwner !== this.owner) return;
    if (now.cancelRequested && end !== "shutdown") {
      await this.endRun(now, "cancelled", "the run was cancelled");
    } else if (end === "shutdown" || run.attempt < this.options.maxAttempts) {
      if (end === "crashed") await this.recordAttemptFailure(active, why);
      await this.queue.requeue(run.id, this.owner, end, this.clock());
      this.log(end === "shutdown" ? "handed a run back" : "attempt ended; re-queued", {
        runId: run.id,
        attempt: run.attempt,
        end,
        error: why,
      });
    } else {
      await this.endRun(now, "error", why);
    }
    this.wake();
  }

  /**
   * A crashed attempt the run survives is an event of that attempt, so the attempt it spent is
   * on record; a crash in set-up (before `run.started`) would otherwise leave no trace.
   */
  private async recordAttemptFailure(active: ActiveRun, why: string): Promise<void> {
    const { run } = active;
    const event = {
      type: "attempt.failed" as const,
      reason: active.started ? ("error" as const) : ("failed_setup" as const),
      message: withoutDataDir(why, this.options.dataDir),
      epoch: null,
      step: null,
    };
    // The run goes back to the queue whether or not its record could be written.
    await this.options.sink.record(run.id, run.attempt, event, null).catch((error: unknown) => {
      this.log("could not record a failed attempt", { runId: run.id, error: String(error) });
    });
  }

  /** Stops the trainer of an attempt and ignores whatever it still sends. */
  private forget(active: ActiveRun): void {
    if (this.active.get(active.run.id) === active) this.active.delete(active.run.id);
    void active.thread.terminate();
  }

  /** Ends a run that has no trainer to report it, through the same sink as trainer events. */
  private async endRun(run: RunRow, reason: FailureReason, message: string): Promise<void> {
    await this.options.sink.record(
      run.id,
      run.attempt,
      {
        type: "run.failed",
        reason,
        message: withoutDataDir(message, this.options.dataDir),
        epoch: null,
        step: null,
      },
      null,
    );
    await this.options.onRunFinished?.(run.id);
  }
}
