import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import type { RunRow } from "./runs.ts";
import { experiments, runs } from "./schema.ts";

/**
 * The run queue's statements. A running run is leased: `lease_owner` trains it until
 * `lease_expires_at`, and every change of a leased run names its owner, so a dispatcher that
 * lost its lease (it stalled, another server re-queued the run) can change nothing. Each is one
 * conditional statement, so two servers on one database never take the same run.
 */

/**
 * Takes the oldest queued run nobody asked to cancel, leases it and counts the attempt. With
 * `projectId`, only that project's runs (a pull worker's key belongs to one project).
 */
export async function claimRun(
  db: Db,
  lease: { owner: string; now: number; leaseMs: number; projectId?: string },
): Promise<RunRow | undefined> {
  const inProject =
    lease.projectId === undefined
      ? undefined
      : inArray(
          runs.experimentId,
          db
            .select({ id: experiments.id })
            .from(experiments)
            .where(eq(experiments.projectId, lease.projectId)),
        );
  const next = db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.state, "queued"), eq(runs.cancelRequested, false), inProject))
    .orderBy(asc(runs.createdAt), asc(runs.position))
    .limit(1);
  const [claimed] = await db
    .update(runs)
    .set({
      state: "running",
      attempt: sql`${runs.attempt} + 1`,
      leaseOwner: lease.owner,
      leaseExpiresAt: lease.now + lease.leaseMs,
      startedAt: sql`coalesce(${runs.startedAt}, ${lease.now})`,
      updatedAt: lease.now,
    })
    .where(and(inArray(runs.id, next), eq(runs.state, "queued")))
    .returning();
  return claimed;
}

/**
 * Extends the owner's lease. `held` is false when the run is no longer this owner's to train;
 * `cancelRequested` carries a cancel asked of another server to the one that trains the run;
 * `attempt` is the attempt the lease is for.
 */
export async function extendLease(
  db: Db,
  lease: { runId: string; owner: string; now: number; leaseMs: number },
): Promise<{ held: boolean; cancelRequested: boolean; attempt: number }> {
  const [row] = await db
    .update(runs)
    .set({ leaseExpiresAt: lease.now + lease.leaseMs })
    .where(and(eq(runs.id, lease.runId), eq(runs.state, "running"), eq(runs.leaseOwner, lease.owner)))
    .returning({ cancelRequested: runs.cancelRequested, attempt: runs.attempt });
  return {
    held: row !== undefined,
    cancelRequested: row?.cancelRequested ?? false,
    attempt: row?.attempt ?? 0,
  };
}

/**
 * Hands a leased run back to the queue. A clean shutdown refunds the attempt (nothing went
 * wrong); a crash or a failed event write does not.
 */
export async function releaseRun(
  db: Db,
  release: { runId: string; owner: string; now: number; refundAttempt: boolean },
): Promise<boolean> {
  const rows = await db
    .update(runs)
    .set({
      state: "queued",
      leaseOwner: null,
      leaseExpiresAt: null,
      ...(release.refundAttempt ? { attempt: sql`max(${runs.attempt} - 1, 0)` } : {}),
      updatedAt: release.now,
    })
    .where(and(eq(runs.id, release.runId), eq(runs.state, "running"), eq(runs.leaseOwner, release.owner)))
    .returning({ id: runs.id });
  return rows.length > 0;
}

/**
 * Re-queues every run whose lease expired while attempts remain and nobody asked to cancel it;
 * the others are returned for the caller to end with a reason. A run left `running` by an
 * older version (no lease at all) counts as expired.
 */
export async function requeueExpired(
  db: Db,
  sweep: { now: number; maxAttempts: number },
): Promise<{ requeued: RunRow[]; toEnd: RunRow[] }> {
  const expired = and(eq(runs.state, "running"), sql`coalesce(${runs.leaseExpiresAt}, 0) < ${sweep.now}`);
  const requeued = await db
    .update(runs)
    .set({ state: "queued", leaseOwner: null, leaseExpiresAt: null, updatedAt: sweep.now })
    .where(and(expired, lt(runs.attempt, sweep.maxAttempts), eq(runs.cancelRequested, false)))
    .returning();
  const toEnd = await db.select().from(runs).where(expired).orderBy(asc(runs.createdAt));
  return { requeued, toEnd };
}

/** Queued runs flagged for cancellation: nobody will claim them, so they are ended here. */
export async function cancelledInQueue(db: Db): Promise<RunRow[]> {
  return db
    .select()
    .from(runs)
    .where(and(eq(runs.state, "queued"), eq(runs.cancelRequested, true)))
    .orderBy(asc(runs.createdAt));
}
