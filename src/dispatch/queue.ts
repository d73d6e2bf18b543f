import type { Db } from "../../db/database.ts";
import { cancelledInQueue, claimRun, extendLease, releaseRun, requeueExpired } from "../../db/queue.ts";
import type { RunRow } from "../../db/runs.ts";

/**
 * Why an attempt ended without its trainer reporting the end. `shutdown` refunds the attempt;
 * the others count it (and the run is failed once attempts run out).
 */
export type AttemptEnd = "shutdown" | "crashed" | "event_write_failed" | "lease_expired";

/** The run queue: claims with a lease, heartbeats, hand-backs and the sweep of expired leases. */
export interface RunQueue {
  /** The next claimable run, fair across projects (db/queue.ts), leased to `owner`; undefined when none is. */
  claim(owner: string, now: number): Promise<RunRow | undefined>;
  /** Extends the lease; `held` is false when the run is no longer this owner's. */
  heartbeat(
    runId: string,
    owner: string,
    now: number,
  ): Promise<{ held: boolean; cancelRequested: boolean; pauseRequested: boolean }>;
  /** Puts a leased run back in the queue; false when the lease was lost already. */
  requeue(runId: string, owner: string, end: AttemptEnd, now: number): Promise<boolean>;
  /**
   * Re-queues runs whose lease expired; returns them, and the runs to give up on (attempts
   * used up, or cancelled) which the caller ends with a `run.failed` event.
   */
  sweep(now: number): Promise<{ requeued: RunRow[]; toEnd: RunRow[] }>;
}

/**
 * A lease's default length past its holder's last sign of life: the setting's default
 * (src/settings/table.ts) and what a runtime that wires no lease length uses.
 */
export const DEFAULT_LEASE_MS = 120_000;

export interface QueueSettings {
  /** A lease lasts this long past its last heartbeat. */
  readonly leaseMs: number;
  /** Starts allowed per run before an interrupted run is failed instead of re-queued. */
  readonly maxAttempts: number;
  /** Runs one project may have running at once (AUTOPROG_PROJECT_MAX_RUNNING); null or absent: no quota. */
  readonly projectMaxRunning?: number | null;
}

/** The queue over the runs table (better-sqlite3 on Node, D1 on Workers). */
export function sqlRunQueue(db: Db, settings: QueueSettings): RunQueue {
  const { leaseMs, maxAttempts } = settings;
  const projectMaxRunning = settings.projectMaxRunning ?? null;
  return {
    claim: (owner, now) => claimRun(db, { owner, now, leaseMs, projectMaxRunning }),
    heartbeat: (runId, owner, now) => extendLease(db, { runId, owner, now, leaseMs }),
    requeue: (runId, owner, end, now) =>
      releaseRun(db, { runId, owner, now, refundAttempt: end === "shutdown" }),
    async sweep(now) {
      const { requeued, toEnd } = await requeueExpired(db, { now, maxAttempts });
      return { requeued, toEnd: [...toEnd, ...(await cancelledInQueue(db))] };
    },
  };
}
