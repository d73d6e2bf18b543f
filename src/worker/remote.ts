import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { RUNS_FOLDER } from "../core/checkpoint-layout.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import type { StartTrainer } from "../dispatch/protocol.ts";
import { type Backoff, backoffDelay } from "../kit/backoff.ts";
import { sleep } from "../kit/sleep.ts";
import type { WorkerApi } from "./remote-api.ts";
import { RemoteRun } from "./remote-run.ts";

export interface PullWorkerOptions {
  readonly api: WorkerApi;
  readonly startTrainer: StartTrainer;
  /** A cancelled or stopped trainer has this long to exit before it is killed. */
  readonly graceMs: number;
  /** A trainer silent this long hangs and is killed (default 120 s). */
  readonly silenceMs?: number;
  /** This worker's name in the API's logs. */
  readonly name: string;
  /** Runs trained at once. */
  readonly concurrency: number;
  /** Datasets, caches and the runs' scratch folders. */
  readonly dataDir: string;
  readonly backend: ExperimentSpec["backend"] | null;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

/** How long one lease request waits for a queued run; a shutdown waits at most this long for it. */
const LEASE_WAIT_SECONDS = 5;

/** Between failed lease requests: 1 s doubling to 30 s (each request retried its own tries already). */
const LEASE_BACKOFF: Backoff = { firstMs: 1_000, maxMs: 30_000, jitter: "none" };

/**
 * `autoprog worker`: leases runs from the API while it has room, trains each in a trainer
 * process (RemoteRun, src/dispatch/attempt.ts), and on `stop()` leases no more, stops its trainers and hands their runs
 * back so they resume elsewhere from their last epoch checkpoint.
 */
export class PullWorker {
  private readonly running = new Map<RemoteRun, Promise<unknown>>();
  private stopping = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: PullWorkerOptions) {}

  start(): Promise<void> {
    this.loop ??= this.leaseLoop();
    return this.loop;
  }

  /** Leases no more, stops every trainer, hands its run back; resolves when all is done. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.running.keys()].map((run) => run.stop()));
    await Promise.all(this.running.values());
    await this.loop;
  }

  private async leaseLoop(): Promise<void> {
    const { api, log, name, concurrency } = this.options;
    let failures = 0;
    while (!this.stopping) {
      if (this.running.size >= concurrency) {
        await Promise.race(this.running.values());
        continue;
      }
      let grant: Awaited<ReturnType<WorkerApi["lease"]>>;
      try {
        grant = await api.lease(name, LEASE_WAIT_SECONDS);
        failures = 0;
      } catch (error) {
        log("could not lease a run; trying again", { error: String(error) });
        failures += 1;
        await sleep(backoffDelay(LEASE_BACKOFF, failures));
        continue;
      }
      if (!grant) continue;
      if (this.stopping) {
        // Leased while shutting down: straight back to the queue.
        await api.release(grant.run.id, grant.lease.token).catch(() => false);
        break;
      }
      log("leased a run", {
        runId: grant.run.id,
        attempt: grant.run.attempt,
        checkpoint: grant.checkpoint?.epoch,
      });
      const workDir = await mkdtemp(join(this.options.dataDir, RUNS_FOLDER, `${grant.run.id}-`));
      const run = new RemoteRun(grant, {
        ...this.options,
        workDir,
        cacheDir: join(this.options.dataDir, "cache"),
      });
      const done = run.run().finally(() => this.running.delete(run));
      this.running.set(run, done);
    }
  }
}
