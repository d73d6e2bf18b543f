import { sql } from "drizzle-orm";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import type * as schema from "./schema.ts";
import { projects } from "./schema.ts";

/**
 * The database every repository takes: drizzle's base SQLite type, sync (better-sqlite3 on
 * Node) or async (D1 on Workers). Repository functions `await` every query, so both work.
 * Only the Node entry (db/sqlite.ts) knows which driver is underneath.
 */
export type Db = BaseSQLiteDatabase<"sync" | "async", unknown, typeof schema>;

/**
 * Which runs' shown columns (db/runs.ts `runViewColumns`) change, as they change: what lets a
 * run's answer be kept in memory (routes/runs/answer-cache.ts). The Node database has one
 * (db/sqlite.ts `watchRunChanges`); D1, where other isolates write unseen, has none.
 */
export interface RunChangeFeed {
  /**
   * Calls `listener` with each changed run's id, or null when any run may have changed; returns
   * the way to stop. It may run inside the writing statement, so it must not throw.
   */
  listen(listener: (runId: string | null) => void): () => void;
}

/**
 * A statement of a batch: a drizzle insert/update/delete with `.returning()`, so every item
 * answers with its rows (an update's rows are how a conditional state change reports success).
 */
export interface BatchStatement<Row> {
  all(): Row[] | Promise<Row[]>;
}

type BatchRows<T extends readonly BatchStatement<unknown>[]> = {
  [K in keyof T]: T[K] extends BatchStatement<infer Row> ? Row[] : never;
};

/** D1 (and libSQL) databases run a list of statements atomically with `batch`. */
interface BatchingDb {
  batch(statements: readonly BatchStatement<unknown>[]): Promise<unknown[][]>;
}

export const canBatch = (db: Db): db is Db & BatchingDb =>
  typeof (db as Partial<BatchingDb>).batch === "function";

/**
 * Runs the statements atomically, in order: `db.batch` on D1, one synchronous transaction on
 * better-sqlite3. Callers decide every statement before the batch runs (no read-then-write
 * inside), which is what keeps the two equivalent.
 */
export async function batch<T extends readonly BatchStatement<unknown>[]>(
  db: Db,
  statements: T,
): Promise<BatchRows<T>> {
  if (statements.length === 0) return [] as unknown as BatchRows<T>;
  if (canBatch(db)) return (await db.batch(statements)) as BatchRows<T>;
  // better-sqlite3: the transaction runs synchronously (it rejects a callback that returns a
  // promise), and every `all()` answers with its rows.
  return (await db.transaction(
    () => statements.map((statement) => statement.all()) as never,
  )) as BatchRows<T>;
}

/**
 * `prepare(db, key)` run once per database and key, and remembered: for the statements hot enough
 * that building them per call (drizzle's query builder, then SQLite's prepare) costs more than
 * running them. The Node server has one database; tests open many, hence per database. The key
 * is for statements with a part written into their text (a literal LIMIT); most have none.
 */
export function preparedPerDatabase<T, K = void>(prepare: (db: Db, key: K) => T): (db: Db, key: K) => T {
  const prepared = new WeakMap<Db, Map<K, T>>();
  return (db, key) => {
    let byKey = prepared.get(db);
    if (byKey === undefined) {
      byKey = new Map();
      prepared.set(db, byKey);
    }
    let statements = byKey.get(key);
    if (statements === undefined) {
      statements = prepare(db, key);
      byKey.set(key, statements);
    }
    return statements;
  };
}

/**
 * A LIMIT written into the statement's text instead of bound as a parameter. SQLite (3.47 on)
 * plans with the value bound to a LIMIT, so binding that parameter marks the statement to be
 * prepared again before its next step, and better-sqlite3 binds on every call: a prepared
 * statement with a bound LIMIT was parsed once per call, and any other query twice.
 */
export function literalLimit(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0)
    throw new RangeError(`a LIMIT must be a whole number ≥ 0, not ${count}`);
  // The cast is the one way in: drizzle's `.limit()` is typed `number | Placeholder`, and its
  // dialects write any SQL chunk given there as it is (tests/db/literal-limit.test.ts holds it to that).
  return sql.raw(String(count)) as unknown as number;
}

// A read of the smallest table; prepared, because /healthz is what load balancers poll.
const healthQuery = preparedPerDatabase((db) =>
  db.select({ one: sql<number>`1` }).from(projects).limit(literalLimit(1)).prepare(),
);

/** Liveness of the database: a read that answers (or throws). */
export async function databaseResponds(db: Db): Promise<void> {
  await healthQuery(db).get();
}
