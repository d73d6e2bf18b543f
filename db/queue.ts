import { and, asc, eq, getTableColumns, inArray, lt, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { type Db, literalLimit } from "./database.ts";
import type { RunRow } from "./runs.ts";
import { experiments, runs } from "./schema.ts";

/**
 * The run queue's statements. A running run is leased: `lease_owner` trains it until
 * `lease_expires_at`, and every change of a leased run names its owner, so a dispatcher that
 * lost its lease (it stalled, another server re-queued the run) can change nothing. Each is one
 * conditional statement, so two servers on one database never take the same run.
 */

/**
 * Each project's load: its running runs and the newest start of any of its runs (when it was
 * last served; a re-queued run keeps its first start, so resuming one does not count as a turn).
 * A derived table the claim joins, so the choice and the lease are one statement. It reads every
 * run once per claim: fine for thousands of runs, a per-project counter table beyond that.
 */
function projectLoad(db: Db) {
  const r = alias(runs, "load_runs");
  const e = alias(experiments, "load_experiments");
  return db
    .select({
      projectId: e.projectId,
      running: sql<number>`sum(${r.state} = 'running')`.as("running"),
      lastStart: sql<number | null>`max(${r.startedAt})`.as("last_start"),
    })
    .from(r)
    .innerJoin(e, eq(e.id, r.experimentId))
    .groupBy(e.projectId)
    .as("load");
}

/**
 * Takes a queued run nobody asked to cancel, leases it and counts the attempt — fairly across
 * projects: from the project with the fewest running runs, then the one served longest ago
 * (round robin among equals), then its oldest run. A project already running
 * `projectMaxRunning` runs gets none. With `projectId`, only that project's runs (a pull
 * worker's key belongs to one project). One statement: the choice, the quota and the lease
 * cannot be split by another claimer, on SQLite and D1 alike.
 */
export async function claimRun(
  db: Db,
  lease: {
    owner: string;
    now: number;
    leaseMs: number;
    projectId?: string;
    projectMaxRunning?: number | null;
  },
): Promise<RunRow | undefined> {
  const load = projectLoad(db);
  const running = sql`coalesce(${load.running}, 0)`;
  const quota = lease.projectMaxRunning ?? null;
  const next = db
    .select({ id: runs.id })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .leftJoin(load, eq(load.projectId, experiments.projectId))
    .where(
      and(
        eq(runs.state, "queued"),
        eq(runs.cancelRequested, false),
        lease.projectId === undefined ? undefined : eq(experiments.projectId, lease.projectId),
        quota === null ? undefined : sql`${running} < ${quota}`,
      ),
    )
    .orderBy(
      asc(running),
      asc(sql`coalesce(${load.lastStart}, 0)`),
      asc(runs.createdAt),
      asc(runs.position),
      asc(runs.id),
    )
    .limit(literalLimit(1));
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
 * `cancelRequested` and `pauseRequested` carry a cancel or a pause asked of another server to
 * the one that trains the run; `attempt` is the attempt the lease is for.
 */
export async function extendLease(
  db: Db,
  lease: { runId: string; owner: string; now: number; leaseMs: number },
): Promise<{ held: boolean; cancelRequested: boolean; pauseRequested: boolean; attempt: number }> {
  const [row] = await db
    .update(runs)
    .set({ leaseExpiresAt: lease.now + lease.leaseMs })
    .where(and(eq(runs.id, lease.runId), eq(runs.state, "running"), eq(runs.leaseOwner, lease.owner)))
    .returning({
      cancelRequested: runs.cancelRequested,
      pauseRequested: runs.pauseRequested,
      attempt: runs.attempt,
    });
  return {
    held: row !== undefined,
    cancelRequested: row?.cancelRequested ?? false,
    pauseRequested: row?.pauseRequested ?? false,
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

/** Where a project's queued runs stand: its running and queued counts, and how many projects wait. */
export async function projectQueueCounts(
  db: Db,
  projectId: string,
): Promise<{ running: number; queued: number; projectsQueued: number }> {
  const [row] = await db
    .select({
      running: sql<number>`coalesce(sum(${runs.state} = 'running' and ${experiments.projectId} = ${projectId}), 0)`,
      queued: sql<number>`coalesce(sum(${runs.state} = 'queued' and ${experiments.projectId} = ${projectId}), 0)`,
      projectsQueued: sql<number>`count(distinct case when ${runs.state} = 'queued' then ${experiments.projectId} end)`,
    })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(and(inArray(runs.state, ["queued", "running"]), eq(runs.cancelRequested, false)));
  return {
    running: Number(row?.running ?? 0),
    queued: Number(row?.queued ?? 0),
    projectsQueued: Number(row?.projectsQueued ?? 0),
  };
}

/** A position in a project's queue: the order its runs are claimed in (oldest first). */
export interface QueuePosition {
  readonly createdAt: number;
  readonly position: number;
  readonly id: string;
}

const queuedInProject = (projectId: string) =>
  and(eq(runs.state, "queued"), eq(runs.cancelRequested, false), eq(experiments.projectId, projectId));
const claimKey = sql`(${runs.createdAt}, ${runs.position}, ${runs.id})`;
const keyOf = (p: QueuePosition) => sql`(${p.createdAt}, ${p.position}, ${p.id})`;

/**
 * A page of the project's queued runs in the order its runs are claimed, after `after` when
 * given, and the 1-based position of the page's first run in that order.
 */
export async function queuedRunsOfProject(
  db: Db,
  projectId: string,
  page: { after?: QueuePosition; limit: number },
): Promise<{ rows: RunRow[]; firstPosition: number }> {
  const { after } = page;
  const rows = await db
    .select(getTableColumns(runs))
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(and(queuedInProject(projectId), after ? sql`${claimKey} > ${keyOf(after)}` : undefined))
    .orderBy(asc(runs.createdAt), asc(runs.position), asc(runs.id))
    .limit(literalLimit(page.limit));
  if (!after) return { rows, firstPosition: 1 };
  const [before] = await db
    .select({ n: sql<number>`count(*)` })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(and(queuedInProject(projectId), sql`${claimKey} <= ${keyOf(after)}`));
  return { rows, firstPosition: Number(before?.n ?? 0) + 1 };
}
