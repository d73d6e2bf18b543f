import { and, asc, eq, isNull, lt, ne, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import { batch, literalLimit } from "./database.ts";
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
  return (await db.select({ id: apiKeys.id }).from(apiKeys).limit(literalLimit(1)).get()) !== undefined;
}

/**
 * Every key, or a project's, oldest first (keys are few: no paging). `withOperators: false`
 * leaves out operator keys: they are homed in a project but belong to none (a project admin's view).
 */
export async function listKeys(
  db: Db,
  options: { projectId?: string; withOperators?: boolean } = {},
): Promise<KeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(
      and(
        options.projectId !== undefined ? eq(apiKeys.projectId, options.projectId) : undefined,
        options.withOperators === false ? ne(apiKeys.role, "operator") : undefined,
      ),
    )
    .orderBy(asc(apiKeys.id));
}

/** Records a use, at most once a minute per key (the read that authenticated already knows when). */
export async function touchKey(db: Db, id: string, now: number, everyMs = 60_000): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, now - everyMs))));
}

export type RevokeOutcome =
  | "revoked"
  | "already_revoked"
  | "not_found"
  | "last_admin_key"
  | "last_operator_key";

/** Keys a project admin may see and revoke: its project's, never an operator key. */
export interface KeyScope {
  readonly projectId: string;
}

const inScope = (row: KeyRow, scope: KeyScope | null) =>
  scope === null || (row.projectId === scope.projectId && row.role !== "operator");

/**
 * Revokes a key at once; with `scope`, only a key of that project (any other is `not_found`, so
 * another project's keys are not even known to exist). A project's last live admin key is refused
 * (`last_admin_key`), and so is the last live operator key (`last_operator_key`): without them
 * nobody could manage the project's keys, or create projects, over HTTP. The guards sit in the
 * statement itself (correlated counts), so two revocations racing for the last two cannot both win.
 */
export async function revokeKey(
  db: Db,
  id: string,
  now: number,
  scope: KeyScope | null = null,
): Promise<RevokeOutcome> {
  const liveAdminsOfProject = sql`(select count(*) from ${apiKeys} as peer
    where peer.role = 'admin' and peer.revoked_at is null and peer.project_id = "api_keys"."project_id")`;
  const liveOperators = sql`(select count(*) from ${apiKeys} as peer
    where peer.role = 'operator' and peer.revoked_at is null)`;
  const revoked = await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(
      and(
        eq(apiKeys.id, id),
        isNull(apiKeys.revokedAt),
        scope !== null
          ? and(eq(apiKeys.projectId, scope.projectId), ne(apiKeys.role, "operator"))
          : undefined,
        or(
          notInArray(apiKeys.role, ["admin", "operator"]),
          and(eq(apiKeys.role, "admin"), sql`${liveAdminsOfProject} > 1`),
          and(eq(apiKeys.role, "operator"), sql`${liveOperators} > 1`),
        ),
      ),
    )
    .returning({ id: apiKeys.id });
  if (revoked.length > 0) return "revoked";
  const row = await keyById(db, id);
  if (!row || !inScope(row, scope)) return "not_found";
  if (row.revokedAt !== null) return "already_revoked";
  return row.role === "operator" ? "last_operator_key" : "last_admin_key";
}
