import type { Db } from "../../db/database.ts";
import { getExperiment } from "../../db/experiments.ts";
import { getRun, type RunRow, trainingSpecOf } from "../../db/runs.ts";
import { runCheckpointsPath } from "../core/checkpoint-layout.ts";
import type { FailureReason, TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import type { EventSink } from "../events/sink.ts";
import { sleep } from "../kit/sleep.ts";
import { WakeLoop } from "../kit/wake-loop.ts";
import { type AttemptOutcome, TrainerAttempt, trainerJob } from "./attempt.ts";
import type { RunControl } from "./control.ts";
import { DEFAULT_TRAINER_GRACE_MS, DEFAULT_TRAINER_SILENCE_MS, type StartTrainer } from "./protocol.ts";
import { type AttemptEnd, DEFAULT_LEASE_MS, type RunQueue, sqlRunQueue } from "./queue.ts";
import { expiredRunEnd } from "./reaper.ts";
import { eventWithoutDataDir, withoutDataDir } from "./server-paths.ts";

export interface DispatcherOptions {
  readonly db: Db;
  readonly sink: EventSink;
  /** Starts a trainer for one attempt: the transport (a child process per attempt on Node). */
  readonly startTrainer: StartTrainer;
  /** A cancelled or stopped trainer has this long to exit before it is killed (default 10 s). */
  readonly graceMs?: number;
  /** A trainer silent this long hangs and is killed (default 120 s; a lease that runs out first ends it too). */
  readonly silenceMs?: number;
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
  readonly attempt: TrainerAttempt;
  /** The trainer reported `run.started`: set-up is over. */
  started: boolean;
  lastHeartbeat: number;
}

/**
 * Takes runs from the queue, a configurable number at a time, and trains each attempt in a
 * trainer process of its own (src/dispatch/attempt.ts), so the HTTP loop never waits on tensor
 * work and a trainer's crash, abort or hang ends that attempt only. Every run it trains is leased: the
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
  /** Every trainer process not yet exited, forgotten or not: a shutdown waits for them. */
  private readonly exits = new Set<Promise<unknown>>();

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
      active.attempt.cancel();
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
    } else if (run?.state === "paused" && run.cancelRequested) {
      await this.endRun(run, "cancelled", "the run was cancelled while paused");
    }
  }

  pause(runId: string): void {
    // A trainer still in set-up gets it too: it pauses at its first step boundary. A run
    // trained elsewhere hears of it at its owner's next heartbeat.
    this.active.get(runId)?.attempt.pause();
  }

  /** Resolves when nothing is training and nothing is being taken from the queue. */
  async idle(): Promise<void> {
    while (this.pumpLoop.running || this.pending.size > 0 || this.active.size > 0) {
      await Promise.all([this.pumpLoop.running, ...this.pending]);
      if (this.active.size > 0) await sleep(20);
    }
  }

  /**
   * Clean shutdown: stops the trainers (SIGTERM, SIGKILL after the grace period), hands their
   * runs back to the queue, and resolves once every trainer process has exited.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await this.pumpLoop.stop();
    const runs = [...this.active.values()];
    await Promise.all(runs.map((active) => this.endAttempt(active, "shutdown", "the server stopped")));
    await Promise.all([...this.pending, ...this.exits]);
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
    const built = trainerJob({
      runId: run.id,
      attempt: run.attempt,
      arm: run.label,
      seed: run.seed,
      storedSpec: trainingSpecOf(run, experiment),
      dataDir: this.options.dataDir,
      checkpointDir: `${this.options.dataDir}/${runCheckpointsPath(run.id)}`,
      resumeEpoch: run.checkpointEpoch,
      backend: this.options.backend ?? null,
      cacheDir: this.options.cacheDir ?? null,
      cancelled: run.cancelRequested,
      paused: run.pauseRequested,
    });
    if ("problem" in built) {
      await this.endRun(run, "failed_setup", built.problem);
      return;
    }
    let active: ActiveRun | undefined;
    let attempt: TrainerAttempt;
    try {
      attempt = new TrainerAttempt(built.job, {
        startTrainer: this.options.startTrainer,
        graceMs: this.options.graceMs ?? DEFAULT_TRAINER_GRACE_MS,
        silenceMs: this.options.silenceMs ?? DEFAULT_TRAINER_SILENCE_MS,
        onEvent: (event, replayKey) => {
          if (active) this.onEvent(active, event, replayKey);
        },
        onAlive: () => {
          if (active && this.active.get(run.id) === active) this.heartbeat(active);
        },
        log: this.log,
      });
    } catch (error) {
      await this.endRun(run, "failed_setup", `could not start a trainer: ${String(error)}`);
      return;
    }
    const current: ActiveRun = { run, attempt, started: false, lastHeartbeat: this.clock() };
    active = current;
    this.active.set(run.id, current);
    this.log("run started", { runId: run.id, attempt: run.attempt });
    const exited = attempt.ended.then((outcome) => this.track(this.onExit(current, outcome)));
    this.exits.add(exited);
    void exited.finally(() => this.exits.delete(exited));
  }

  private onEvent(active: ActiveRun, event: TrainingEvent, replayKey: string | null): void {
    if (this.active.get(active.run.id) !== active) return;
    if (event.type === "run.started") active.started = true;
    this.options.sink
      .record(active.run.id, active.run.attempt, eventWithoutDataDir(event, this.options.dataDir), replayKey)
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
  }

  /** Extends the lease at most every quarter lease; a lost lease stops the trainer. */
  private heartbeat(active: ActiveRun): void {
    const now = this.clock();
    if (now - active.lastHeartbeat < this.leaseMs / 4) return;
    active.lastHeartbeat = now;
    this.track(
      this.queue
        .heartbeat(active.run.id, this.owner, now)
        .then(({ held, cancelRequested, pauseRequested }) => {
          if (!held) {
            this.log("lost the lease of a run; its trainer stops", { runId: active.run.id });
            this.forget(active);
          } else if (cancelRequested) {
            active.attempt.cancel();
          } else if (pauseRequested) {
            active.attempt.pause();
          }
        }),
    );
  }

  private async onExit(active: ActiveRun, outcome: AttemptOutcome): Promise<void> {
    if (this.active.get(active.run.id) !== active) return;
    await this.options.sink.drained(active.run.id);
    const now = await getRun(this.options.db, active.run.id);
    if (now?.state === "running" && now.leaseOwner === this.owner) {
      const why = outcome.crash ?? "the trainer ended without reporting the run's end";
      if (outcome.outOfMemory && !now.cancelRequested) {
        // Another attempt would run out of memory again, and take the host's memory with it.
        this.forget(active);
        await this.endRun(now, "out_of_memory", `the trainer ran out of memory: ${why}`);
        this.log("run ended", { runId: active.run.id, state: "failed", reason: "out_of_memory" });
      } else {
        // The trainer ended without a terminal event: a crash of this attempt.
        await this.endAttempt(active, "crashed", why);
      }
    } else if (now?.state === "paused") {
      // Its checkpoints are where the resumed run goes on from: nothing is pruned.
      this.active.delete(active.run.id);
      this.log("run paused", { runId: active.run.id });
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
    void active.attempt.terminate();
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
