import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Db } from "../../db/client.ts";
import { getExperiment } from "../../db/experiments.ts";
import {
  claimNextRun,
  getRun,
  type RunRow,
  requeueInterrupted,
  requeueRun,
  runsInState,
} from "../../db/runs.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import { ReplayKeys } from "../events/replay-key.ts";
import type { EventSink } from "../events/sink.ts";
import type { FromTrainer, StartTrainer, TrainerJob, TrainerThread } from "./protocol.ts";

export interface DispatcherOptions {
  readonly db: Db;
  readonly sink: EventSink;
  /** Runs trained at once; 0 = this process only serves the API. */
  readonly concurrency: number;
  /** Starts allowed per run before an interrupted run is failed instead of re-queued. */
  readonly maxAttempts: number;
  /** Checkpoints go to `<dataDir>/runs/<run id>/checkpoints`. */
  readonly dataDir: string;
  readonly backend?: ExperimentSpec["backend"] | null;
  readonly cacheDir?: string | null;
  readonly clock?: () => number;
  readonly startTrainer?: StartTrainer;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** What routes need from the dispatcher. */
export interface RunControl {
  /** New runs were queued. */
  wake(): void;
  /** The run was flagged for cancellation: stop its trainer, or end it if it has none. */
  cancel(runId: string): Promise<void>;
}

interface ActiveRun {
  readonly run: RunRow;
  readonly thread: TrainerThread;
  readonly keys: ReplayKeys;
  finished: boolean;
  error: string | null;
}

/** Starts a trainer in a worker thread; its entry registers tsx so worker.ts runs as TypeScript. */
export const startTrainerThread: StartTrainer = (job: TrainerJob) =>
  new Worker(new URL("./trainer-thread.mjs", import.meta.url), { workerData: job });

/**
 * The embedded dispatcher: takes queued runs, a configurable number at a time, and trains each
 * in a worker thread so the HTTP loop never waits on tensor work. On start it re-queues the runs
 * a previous process left running (they resume from their newest checkpoint) or fails them
 * once they have used up their attempts: no run stays `running` forever.
 */
export class Dispatcher implements RunControl {
  private readonly active = new Map<string, ActiveRun>();
  private readonly clock: () => number;
  private readonly startTrainer: StartTrainer;
  private readonly log: NonNullable<DispatcherOptions["log"]>;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private stopped = false;
  private readonly exits = new Set<Promise<void>>();

  constructor(private readonly options: DispatcherOptions) {
    this.clock = options.clock ?? Date.now;
    this.startTrainer = options.startTrainer ?? startTrainerThread;
    this.log = options.log ?? (() => {});
  }

  /** Recovers what a previous process left behind, then starts taking runs. */
  async start(): Promise<void> {
    const { db, maxAttempts } = this.options;
    const now = this.clock();
    for (const run of await runsInState(db, "running")) {
      if (run.cancelRequested) await this.endRun(run, "cancelled", "the run was cancelled");
    }
    for (const run of await requeueInterrupted(db, maxAttempts, now)) {
      this.log("re-queued an interrupted run", { runId: run.id, attempt: run.attempt });
    }
    for (const run of await runsInState(db, "running")) {
      await this.endRun(run, "error", `interrupted ${run.attempt} times; not trying again`);
    }
    for (const run of await runsInState(db, "queued")) {
      if (run.cancelRequested) await this.endRun(run, "cancelled", "the run was cancelled before it started");
    }
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.log("dispatch failed", { error: String(error) }))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.wake();
        }
      });
  }

  async cancel(runId: string): Promise<void> {
    const active = this.active.get(runId);
    if (active) {
      active.thread.postMessage({ type: "cancel" });
      return;
    }
    const run = await getRun(this.options.db, runId);
    if (run?.state === "queued" && run.cancelRequested) {
      await this.endRun(run, "cancelled", "the run was cancelled before it started");
    }
  }

  /** Resolves when nothing is training and nothing is being taken from the queue. */
  async idle(): Promise<void> {
    while (this.pumping || this.exits.size > 0 || this.active.size > 0) {
      await Promise.all([this.pumping, ...this.exits]);
      if (this.active.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Clean shutdown: stops the trainers and hands their runs back to the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.pumping;
    const runs = [...this.active.values()];
    this.active.clear();
    await Promise.all(
      runs.map(async ({ run, thread }) => {
        await thread.terminate();
        await this.options.sink.drained(run.id);
        await requeueRun(this.options.db, run.id, { now: this.clock(), refundAttempt: true });
      }),
    );
  }

  private async pump(): Promise<void> {
    const { db, concurrency } = this.options;
    while (!this.stopped && this.active.size < concurrency) {
      const run = await claimNextRun(db, this.clock());
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
      spec: experiment.spec,
      arm: run.label,
      seed: run.seed,
      checkpointDir: join(this.options.dataDir, "runs", run.id, "checkpoints"),
      backend: this.options.backend ?? null,
      cacheDir: this.options.cacheDir ?? null,
      cancelled: run.cancelRequested,
    };
    let thread: TrainerThread;
    try {
      thread = this.startTrainer(job);
    } catch (error) {
      await this.endRun(run, "failed_setup", `could not start a trainer thread: ${String(error)}`);
      return;
    }
    const active: ActiveRun = { run, thread, keys: new ReplayKeys(), finished: false, error: null };
    this.active.set(run.id, active);
    this.log("run started", { runId: run.id, attempt: run.attempt });
    thread.on("message", (message: FromTrainer) => this.onMessage(active, message));
    thread.on("error", (error: Error) => {
      active.error = error.message;
    });
    thread.on("exit", (code: number) => {
      const exit = this.onExit(active, code).finally(() => this.exits.delete(exit));
      this.exits.add(exit);
    });
  }

  private onMessage(active: ActiveRun, message: FromTrainer): void {
    if (this.active.get(active.run.id) !== active) return;
    if (message.type === "event") {
      const key = active.keys.next(message.event as unknown as Record<string, unknown> & { type: string });
      void this.options.sink
        .record(active.run.id, active.run.attempt, message.event, key)
        .catch((error: unknown) =>
          this.log("could not store an event", { runId: active.run.id, error: String(error) }),
        );
    } else {
      active.finished = true;
      active.error = message.crashed;
      // The thread has nothing left to do; end it rather than wait for its handles to close.
      void active.thread.terminate();
    }
  }

  private async onExit(active: ActiveRun, code: number): Promise<void> {
    const { run } = active;
    if (this.active.get(run.id) !== active) return;
    await this.options.sink.drained(run.id);
    this.active.delete(run.id);
    const now = await getRun(this.options.db, run.id);
    if (now?.state === "running") {
      // The trainer ended without a terminal event: a crash of this attempt.
      const why = active.error ?? `the trainer thread exited with code ${code}`;
      if (run.attempt < this.options.maxAttempts && !now.cancelRequested) {
        this.log("trainer crashed; re-queued", { runId: run.id, attempt: run.attempt, error: why });
        await requeueRun(this.options.db, run.id, { now: this.clock(), refundAttempt: false });
      } else {
        await this.endRun(now, "error", why);
      }
    }
    this.log("run ended", { runId: run.id, state: (await getRun(this.options.db, run.id))?.state });
    this.wake();
  }

  /** Ends a run that has no trainer to report it, through the same sink as trainer events. */
  private async endRun(run: RunRow, reason: string, message: string): Promise<void> {
    await this.options.sink.record(
      run.id,
      run.attempt,
      { type: "run.failed", reason, message, epoch: null, step: null } as { type: string },
      null,
    );
  }
}
