import { and, desc, eq, lt, sql } from "drizzle-orm";
import { type BatchStatement, batch, type Db, literalLimit } from "./database.ts";
import { runEvents, webhookDeliveries, webhookEndpoints, webhookOutbox } from "./schema.ts";

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type NewWebhookEndpoint = typeof webhookEndpoints.$inferInsert;
export type OutboxRow = typeof webhookOutbox.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function createEndpoint(db: Db, row: NewWebhookEndpoint): Promise<void> {
  await db.insert(webhookEndpoints).values(row);
}

/** The endpoint, if it belongs to the project (another project's id reads as unknown). */
export async function getEndpoint(db: Db, projectId: string, id: string) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.projectId, projectId)))
    .get();
}

/** Newest first; `before` is the last id of the previous page (ids sort by time). */
export async function listEndpoints(db: Db, projectId: string, options: { limit: number; before?: string }) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.projectId, projectId),
        options.before ? lt(webhookEndpoints.id, options.before) : undefined,
      ),
    )
    .orderBy(desc(webhookEndpoints.id))
    .limit(literalLimit(options.limit));
}

/** Removes the endpoint with its outbox and delivery log; false when it was not there. */
export async function deleteEndpoint(db: Db, projectId: string, id: string): Promise<boolean> {
  const owned = sql`${webhookEndpoints.projectId} = ${projectId}`;
  const ofEndpoint = sql`(select ${webhookEndpoints.id} from ${webhookEndpoints} where ${webhookEndpoints.id} = ${id} and ${owned})`;
  const [, , removed] = await batch(db, [
    db
      .delete(webhookDeliveries)
      .where(sql`${webhookDeliveries.endpointId} in ${ofEndpoint}`)
      .returning({ id: webhookDeliveries.id }),
    db
      .delete(webhookOutbox)
      .where(sql`${webhookOutbox.endpointId} in ${ofEndpoint}`)
      .returning({ id: webhookOutbox.id }),
    db
      .delete(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.projectId, projectId)))
      .returning({ id: webhookEndpoints.id }),
  ] as const);
  return removed.length > 0;
}

/** A new secret; the current one keeps signing beside it until `now + graceMs`. */
export async function rotateSecret(
  db: Db,
  projectId: string,
  id: string,
  secret: string,
  previousUntil: number,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await db
    .update(webhookEndpoints)
    // In SQL every right-hand side reads the row as it was, so `previous_secret` gets the old secret.
    .set({ secret, previousSecret: sql`${webhookEndpoints.secret}`, previousSecretExpiresAt: previousUntil })
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.projectId, projectId)))
    .returning();
  return row;
}

/** What the sink knows of a run's webhook message before the event's seq exists. */
export interface RunMessage {
  readonly runId: string;
  readonly replayKey: string | null;
  readonly type: string;
  /** The body around the experiment id, which the statement reads from the run itself. */
  readonly bodyBefore: string;
  readonly bodyAfter: string;
  readonly now: number;
}

/**
 * The outbox rows of one run event, as a statement of the event's own batch: one per enabled
 * endpoint of the run's project that subscribes to the type. The message id carries the event's
 * seq (read inside the statement, after the event's insert); a replayed event finds its stored
 * seq by replay key and the unique index keeps its rows from being written twice.
 */
export function runMessageStatement(db: Db, m: RunMessage): BatchStatement<unknown> {
  const seq =
    m.replayKey === null
      ? sql`(select max(${runEvents.seq}) from ${runEvents} where ${runEvents.runId} = ${m.runId})`
      : sql`(select ${runEvents.seq} from ${runEvents} where ${runEvents.runId} = ${m.runId} and ${runEvents.replayKey} = ${m.replayKey})`;
  const experimentId = sql`(select experiment_id from runs where id = ${m.runId})`;
  const projectId = sql`(select project_id from experiments where id = ${experimentId})`;
  return db
    .insert(webhookOutbox)
    .select(
      sql`select null, ${webhookEndpoints.id}, ${`msg_${m.runId.replace(/^run_/, "")}_`} || ${seq}, ${m.type},
        ${m.bodyBefore} || json_quote(${experimentId}) || ${m.bodyAfter}, 'pending', 0, 0, ${m.now}, ${m.now}
        from ${webhookEndpoints}
        where ${webhookEndpoints.projectId} = ${projectId} and ${webhookEndpoints.enabled} = 1
          and exists (select 1 from json_each(${webhookEndpoints.events}) where value = ${m.type})`,
    )
    .onConflictDoNothing({ target: [webhookOutbox.endpointId, webhookOutbox.messageId] })
    .returning({ id: webhookOutbox.id });
}

/** One message to one endpoint, due now (the test event). */
export async function enqueueMessage(
  db: Db,
  m: { endpointId: string; messageId: string; type: string; body: string; now: number },
): Promise<OutboxRow> {
  const [row] = await db
    .insert(webhookOutbox)
    .values({
      endpointId: m.endpointId,
      messageId: m.messageId,
      type: m.type,
      body: m.body,
      nextAttemptAt: m.now,
      createdAt: m.now,
    })
    .returning();
  if (!row) throw new Error("the outbox row was not written");
  return row;
}

/**
 * Claims up to `limit` due rows of enabled endpoints in one statement: each attempt is counted
 * and the row is pushed `leaseMs` ahead, so a second deliverer skips it and a deliverer that dies
 * mid-attempt leaves it due again.
 */
export async function claimDueMessages(db: Db, options: { now: number; leaseMs: number; limit: number }) {
  const due = sql`select o.id from ${webhookOutbox} o join ${webhookEndpoints} e on e.id = o.endpoint_id
    where o.state = 'pending' and o.next_attempt_at <= ${options.now} and e.enabled = 1
    order by o.next_attempt_at, o.id limit ${options.limit}`;
  return db
    .update(webhookOutbox)
    .set({
      attempts: sql`${webhookOutbox.attempts} + 1`,
      nextAttemptAt: options.now + options.leaseMs,
    })
    .where(sql`${webhookOutbox.id} in (${due})`)
    .returning();
}

export async function endpointById(db: Db, id: string) {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get();
}

/** What an attempt leaves behind. */
export type AttemptNext =
  | { readonly state: "delivered" }
  | { readonly state: "pending"; readonly at: number }
  | { readonly state: "failed"; readonly disable: string | null };

export interface AttemptRecord {
  readonly id: string;
  readonly row: OutboxRow;
  readonly status: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly now: number;
  readonly next: AttemptNext;
}

/** The delivery log entry, the row's next state and, when it says so, the endpoint disabled: one batch. */
export async function recordAttempt(db: Db, a: AttemptRecord): Promise<void> {
  const { row, next } = a;
  await batch(db, [
    db
      .insert(webhookDeliveries)
      .values({
        id: a.id,
        outboxId: row.id,
        endpointId: row.endpointId,
        messageId: row.messageId,
        type: row.type,
        attempt: row.attempts,
        status: a.status,
        durationMs: a.durationMs,
        error: a.error,
        createdAt: a.now,
      })
      .returning({ id: webhookDeliveries.id }),
    db
      .update(webhookOutbox)
      .set({
        state: next.state,
        failures: next.state === "delivered" ? row.failures : row.failures + 1,
        nextAttemptAt: next.state === "pending" ? next.at : null,
      })
      .where(eq(webhookOutbox.id, row.id))
      .returning({ id: webhookOutbox.id }),
    ...(next.state === "failed" && next.disable !== null
      ? [
          db
            .update(webhookEndpoints)
            .set({ enabled: false, disabledReason: next.disable, disabledAt: a.now })
            .where(and(eq(webhookEndpoints.id, row.endpointId), eq(webhookEndpoints.enabled, true)))
            .returning({ id: webhookEndpoints.id }),
        ]
      : []),
  ]);
}

/** The endpoint's delivery log, newest first. */
export async function listDeliveries(
  db: Db,
  endpointId: string,
  options: { limit: number; before?: string },
) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        options.before ? lt(webhookDeliveries.id, options.before) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(literalLimit(options.limit));
}

/** A delivery with its endpoint, if the endpoint belongs to the project. */
export async function getDelivery(db: Db, projectId: string, id: string) {
  return db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(and(eq(webhookDeliveries.id, id), eq(webhookEndpoints.projectId, projectId)))
    .get();
}

/** Sends the message again now, on a fresh schedule, with the same webhook-id. */
export async function redeliver(db: Db, outboxId: number, now: number): Promise<OutboxRow | undefined> {
  const [row] = await db
    .update(webhookOutbox)
    .set({ state: "pending", failures: 0, nextAttemptAt: now })
    .where(eq(webhookOutbox.id, outboxId))
    .returning();
  return row;
}
