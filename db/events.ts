import { and, asc, eq, gt, sql } from "drizzle-orm";
import { type BatchStatement, batch, type Db, literalLimit, preparedPerDatabase } from "./database.ts";
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

// The insert of `insertEventStatement`, prepared for `recordEventsTogether`.
const preparedInsert = preparedPerDatabase((db) => {
  const p = sql.placeholder;
  return db
    .insert(runEvents)
    .values({
      runId: sql`${p("runId")}`,
      attempt: sql`${p("attempt")}`,
      replayKey: sql`${p("replayKey")}`,
      type: sql`${p("type")}`,
      payload: sql`${p("payload")}`,
      createdAt: sql`${p("createdAt")}`,
      seq: sql`(select coalesce(max(${runEvents.seq}), 0) + 1 from ${runEvents} where ${runEvents.runId} = ${p("runId")})`,
    })
    .onConflictDoNothing({ target: [runEvents.runId, runEvents.replayKey] })
    .returning({ seq: runEvents.seq })
    .prepare() as unknown as { all(params: NewEvent): unknown };
});

// `lastSeqStatement`, prepared: built per run per batch it cost more than running it.
const preparedLastSeq = preparedPerDatabase((db) => {
  const p = sql.placeholder;
  return db
    .update(runs)
    .set({
      lastSeq: sql`(select coalesce(max(${runEvents.seq}), 0) from ${runEvents} where ${runEvents.runId} = ${p("runId")})`,
      updatedAt: sql`${p("now")}`,
    })
    .where(eq(runs.id, sql`${p("runId")}`))
    .prepare() as unknown as { run(params: { runId: string; now: number }): unknown };
});

/** One event of a transaction that stores many (`recordEventsTogether`). */
export interface EventWrite {
  readonly event: NewEvent;
  /** Its derived and outbox statements, idempotent as for `recordEvent`. */
  readonly statements: readonly BatchStatement<unknown>[];
}

/** What became of one event of `recordEventsTogether`: its seq, null for a replay, or the error. */
export type EventOutcome = number | null | Error;

/**
 * Many events in one transaction on a database that runs statements synchronously
 * (better-sqlite3; `canBatch` is false): each event with its derived rows exactly as
 * `recordEvent` writes them, then each run's last seq once. One commit instead of one per event
 * is what makes ingestion cheap. An event whose statements fail is rolled back alone (the
 * events after it are retried each in a savepoint) and `skip` decides, in order, which later
 * events are not written at all (the sink's rule: nothing after a lost event of an attempt).
 * Throws, having written nothing, when the transaction itself cannot commit.
 */
export function recordEventsTogether(
  db: Db,
  writes: readonly EventWrite[],
  now: number,
  skip: (write: EventWrite, failedSoFar: readonly EventWrite[]) => boolean,
): EventOutcome[] {
  const insert = preparedInsert(db);
  const writeOne = (write: EventWrite): number | null => {
    const inserted = insert.all(write.event) as { seq: number }[];
    for (const statement of write.statements) statement.all();
    return inserted[0]?.seq ?? null;
  };
  const touchRun = preparedLastSeq(db);
  const touchRuns = () => {
    for (const runId of new Set(writes.map((w) => w.event.runId))) touchRun.run({ runId, now });
  };
  try {
    // The usual case: every statement succeeds, no savepoints needed.
    return db.transaction(() => {
      const outcomes = writes.map(writeOne);
      touchRuns();
      return outcomes;
    }) as unknown as EventOutcome[];
  } catch {
    return db.transaction((tx) => {
      const failed: EventWrite[] = [];
      const outcomes = writes.map((write): EventOutcome => {
        if (skip(write, failed)) return new Error("an earlier event of its attempt was not stored");
        try {
          return tx.transaction(() => writeOne(write)) as unknown as number | null;
        } catch (error) {
          failed.push(write);
          return error instanceof Error ? error : new Error(String(error));
        }
      });
      touchRuns();
      return outcomes;
    }) as unknown as EventOutcome[];
  }
}

// Every SSE wake-up runs this: one statement per page size (a literal LIMIT, see literalLimit;
// the follower asks for one size, tests for another).
const preparedRead = preparedPerDatabase((db, limit: number) =>
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
    .limit(literalLimit(limit))
    .prepare(),
);

/** Events after `afterSeq`, oldest first. */
export async function readEvents(
  db: Db,
  runId: string,
  afterSeq: number,
  limit: number,
): Promise<StoredEvent[]> {
  return preparedRead(db, limit).all({ runId, after: afterSeq });
}
