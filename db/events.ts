import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import { type BatchStatement, batch } from "./database.ts";
import { runEvents, runs } from "./schema.ts";

export interface NewEvent {
  readonly runId: string;
  readonly attempt: number;
  /** Null for events that are new every time (a trainer's start, a server-side failure). */
  readonly replayKey: string | null;
  readonly type: string;
  /** The event as JSON text, exactly as it goes to SSE clients. */
  readonly payload: string;
  readonly createdAt: number;
}

export interface StoredEvent {
  readonly seq: number;
  readonly type: string;
  readonly attempt: number;
  readonly payload: string;
  readonly createdAt: number;
}

/**
 * The event itself: its seq is one more than the run's newest, computed inside the statement
 * so it is gap-free without a read first. A replay key already stored makes it a no-op
 * (no row returned, no seq used).
 */
export function insertEventStatement(db: Db, event: NewEvent) {
  return db
    .insert(runEvents)
    .values({
      ...event,
      seq: sql`(select coalesce(max(${runEvents.seq}), 0) + 1 from ${runEvents} where ${runEvents.runId} = ${event.runId})`,
    })
    .onConflictDoNothing({ target: [runEvents.runId, runEvents.replayKey] })
    .returning({ seq: runEvents.seq });
}

function lastSeqStatement(db: Db, runId: string, now: number) {
  return db
    .update(runs)
    .set({
      lastSeq: sql`(select coalesce(max(${runEvents.seq}), 0) from ${runEvents} where ${runEvents.runId} = ${runId})`,
      updatedAt: now,
    })
    .where(eq(runs.id, runId))
    .returning({ lastSeq: runs.lastSeq });
}

/**
 * One batch: the event, the tables derived from it, and the run's last seq. Derived statements
 * must be idempotent (they run even when the event turns out to be a replay). Returns the new
 * seq, or null when the event was already stored.
 */
export async function recordEvent(
  db: Db,
  event: NewEvent,
  derived: readonly BatchStatement<unknown>[],
): Promise<number | null> {
  const [inserted] = await batch(db, [
    insertEventStatement(db, event),
    ...derived,
    lastSeqStatement(db, event.runId, event.createdAt),
  ] as const);
  return inserted[0]?.seq ?? null;
}

// Every SSE wake-up runs this; built once per database.
const readQueries = new WeakMap<Db, ReturnType<typeof prepareRead>>();
const prepareRead = (db: Db) =>
  db
    .select({
      seq: runEvents.seq,
      type: runEvents.type,
      attempt: runEvents.attempt,
      payload: runEvents.payload,
      createdAt: runEvents.createdAt,
    })
    .from(runEvents)
    .where(and(eq(runEvents.runId, sql.placeholder("runId")), gt(runEvents.seq, sql.placeholder("after"))))
    .orderBy(asc(runEvents.seq))
    .limit(sql.placeholder("limit"))
    .prepare();

/** Events after `afterSeq`, oldest first. */
export async function readEvents(
  db: Db,
  runId: string,
  afterSeq: number,
  limit: number,
): Promise<StoredEvent[]> {
  let query = readQueries.get(db);
  if (!query) {
    query = prepareRead(db);
    readQueries.set(db, query);
  }
  return query.all({ runId, after: afterSeq, limit });
}
