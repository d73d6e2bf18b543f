import type { Db } from "./client.ts";

/**
 * A statement of a batch: a drizzle insert/update/delete with `.returning()`, so every item
 * answers with its rows (an update's rows are how a conditional state change reports success).
 */
export interface BatchStatement<Row> {
  all(): Row[];
}

type BatchRows<T extends readonly BatchStatement<unknown>[]> = {
  [K in keyof T]: T[K] extends BatchStatement<infer Row> ? Row[] : never;
};

/**
 * Runs the statements atomically, in order. On better-sqlite3 that is one synchronous
 * transaction; on D1 the same list goes to `db.batch`. Callers decide every statement before
 * the batch runs (no read-then-write inside), which is what keeps the two equivalent.
 */
export async function batch<T extends readonly BatchStatement<unknown>[]>(
  db: Db,
  statements: T,
): Promise<BatchRows<T>> {
  return db.transaction(() => statements.map((statement) => statement.all())) as BatchRows<T>;
}
