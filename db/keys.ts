import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import { batch } from "./database.ts";
import { newId } from "./ids.ts";
import { apiKeys, type KeyRole, projects } from "./schema.ts";

export type KeyRow = typeof apiKeys.$inferSelect;

export interface NewKey {
  readonly projectId: string;
  readonly role: KeyRole;
  readonly name: string;
  /** SHA-256 of the key (src/auth/keys.ts); the key itself is never stored. */
  readonly hash: string;
  readonly now: number;
}

/** Creates the key, and its project when the project is new, in one batch. */
export async function createKey(db: Db, key: NewKey): Promise<KeyRow> {
  const row = {
    id: newId("key", key.now),
    projectId: key.projectId,
    role: key.role,
    name: key.name,
    hash: key.hash,
    createdAt: key.now,
    lastUsedAt: null,
    revokedAt: null,
  };
  await batch(db, [
    db
      .insert(projects)
      .values({ id: key.projectId, createdAt: key.now })
      .onConflictDoNothing()
      .returning({ id: projects.id }),
    db.insert(apiKeys).values(row).returning({ id: apiKeys.id }),
  ]);
  return row;
}

/**
 * The first-start admin key: created only while the table is empty, in one statement, so two
 * processes starting on one database cannot both create one. Returns whether it was created.
 */
export async function createFirstKey(db: Db, key: NewKey): Promise<boolean> {
  const id = newId("key", key.now);
  const [, inserted] = await batch(db, [
    db
      .insert(projects)
      .values({ id: key.projectId, createdAt: key.now })
      .onConflictDoNothing()
      .returning({ id: projects.id }),
    db
      .insert(apiKeys)
      .select(
        sql`select ${id}, ${key.projectId}, ${key.role}, ${key.name}, ${key.hash}, ${key.now}, null, null
            where not exists (select 1 from ${apiKeys})`,
      )
      .returning({ id: apiKeys.id }),
  ]);
  return (inserted ?? []).length > 0;
}

export async function keyByHash(db: Db, hash: string): Promise<KeyRow | undefined> {
  return db.select().from(apiKeys).where(eq(apiKeys.hash, hash)).get();
}

export async function keyById(db: Db, id: string): Promise<KeyRow | undefined> {
  return db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
}

/** Whether any key exists, revoked or not (the first-start check). */
export async function anyKeyExists(db: Db): Promise<boolean> {
  return (await db.select({ id: apiKeys.id }).from(apiKeys).limit(1).get()) !== undefined;
}

/** Every key, or a project's, oldest first (keys are few: no paging). */
export async function listKeys(db: Db, options: { projectId?: string } = {}): Promise<KeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(options.projectId !== undefined ? eq(apiKeys.projectId, options.projectId) : undefined)
    .orderBy(asc(apiKeys.id));
}

/** Records a use, at most once a minute per key (the read that authenticated already knows when). */
export async function touchKey(db: Db, id: string, now: number, everyMs = 60_000): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, now - everyMs))));
}

export type RevokeOutcome = "revoked" | "already_revoked" | "not_found" | "last_admin_key";

/**
 * Revokes a key at once. The last live admin key is refused (`last_admin_key`): without one,
 * nobody could manage keys over HTTP. The guard sits in the statement itself, so two revocations
 * racing for the last two admin keys cannot both succeed.
 */
export async function revokeKey(db: Db, id: string, now: number): Promise<RevokeOutcome> {
  const liveAdmins = db
    .select({ n: sql<number>`count(*)` })
    .from(apiKeys)
    .where(and(eq(apiKeys.role, "admin"), isNull(apiKeys.revokedAt)));
  const revoked = await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(
      and(
        eq(apiKeys.id, id),
        isNull(apiKeys.revokedAt),
        or(sql`${apiKeys.role} <> 'admin'`, sql`(${liveAdmins}) > 1`),
      ),
    )
    .returning({ id: apiKeys.id });
  if (revoked.length > 0) return "revoked";
  const row = await keyById(db, id);
  if (!row) return "not_found";
  return row.revokedAt !== null ? "already_revoked" : "last_admin_key";
}
