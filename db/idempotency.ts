import { and, eq, lt } from "drizzle-orm";
import type { Db } from "./database.ts";
import { idempotencyKeys } from "./schema.ts";

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/**
 * Claims a key for one request: inserts it in flight, or takes over an expired record.
 * Returns true when this request owns the key.
 */
export async function claimKey(
  db: Db,
  claim: { key: string; fingerprint: string; now: number; ttlMs: number },
): Promise<boolean> {
  const record = {
    key: claim.key,
    fingerprint: claim.fingerprint,
    state: "in_flight" as const,
    status: null,
    body: null,
    location: null,
    createdAt: claim.now,
    expiresAt: claim.now + claim.ttlMs,
  };
  const rows = await db
    .insert(idempotencyKeys)
    .values(record)
    .onConflictDoUpdate({
      target: idempotencyKeys.key,
      set: record,
      setWhere: lt(idempotencyKeys.expiresAt, claim.now),
    })
    .returning({ key: idempotencyKeys.key });
  return rows.length > 0;
}

/** Stores the response of the request that owns the key (part of that request's batch). */
export function completeKeyStatement(
  db: Db,
  done: { key: string; status: number; body: unknown; location: string | null },
) {
  return db
    .update(idempotencyKeys)
    .set({ state: "completed", status: done.status, body: done.body, location: done.location })
    .where(and(eq(idempotencyKeys.key, done.key), eq(idempotencyKeys.state, "in_flight")))
    .returning({ key: idempotencyKeys.key });
}

/** Frees a key whose request failed, so the client may retry with it. */
export async function releaseKey(db: Db, key: string): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.key, key), eq(idempotencyKeys.state, "in_flight")));
}

export async function getKey(db: Db, key: string): Promise<IdempotencyRow | undefined> {
  return db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key)).get();
}
