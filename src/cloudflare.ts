import type { D1Database, ExportedHandler } from "@cloudflare/workers-types";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import type { Db } from "../db/database.ts";
import { getRun } from "../db/runs.ts";
import * as schema from "../db/schema.ts";
import { WORKER_DEFAULTS } from "../routes/workers/lease-state.ts";
import { createApp } from "./app.ts";
import { bootstrapFromSetting } from "./auth/bootstrap-guard.ts";
import { inMemoryAuth } from "./auth/in-memory.ts";
import { type R2BucketLike, r2CheckpointStore } from "./checkpoints/r2-store.ts";
import { DEFAULT_RUN_CEILINGS } from "./core/run-cost.ts";
import type { RunControl } from "./dispatch/control.ts";
import { reapExpiredLeases } from "./dispatch/reaper.ts";
import type { EventHub } from "./events/hub.ts";
import { StoredEventSink } from "./events/sink.ts";
import type { UrlPolicy } from "./events/webhooks/address-guard.ts";
import { WebhookDeliverer } from "./events/webhooks/deliverer.ts";
import type { AuthServices, Services } from "./services.ts";

/**
 * The Workers entry: the same app over D1 (drizzle's D1 driver; migrations are db/migrations,
 * applied with `wrangler d1 migrations apply`). Workers offer no GPU and no threads, so nothing
 * trains here: runs are trained by pull workers elsewhere, which claim them from the queue.
 * Webhooks are delivered, and expired pull-worker leases swept, by the cron trigger (wrangler.toml),
 * which runs `scheduled` each minute.
 * Nothing in this file may import a Node module (the neutral-bundle test bundles it, and
 * tests/cloudflare/ builds it with wrangler and runs it in workerd).
 */
export interface CloudflareBindings {
  readonly DB: D1Database;
  /** The first key (operator; a secret), used while the keys table is empty. */
  readonly AUTOPROG_BOOTSTRAP_KEY?: string;
  readonly SSE_HEARTBEAT_MS?: string;
  readonly IDEMPOTENCY_TTL_HOURS?: string;
  /** Signs stream tokens; set it, or a token minted by one isolate fails in another. */
  readonly STREAM_TOKEN_SECRET?: string;
  /** Pull workers' checkpoints (an R2 bucket); unbound: the checkpoint routes answer 503. */
  readonly CHECKPOINTS?: R2BucketLike;
  /** A pull worker's lease (seconds past its last heartbeat or event batch). */
  readonly LEASE_SECONDS?: string;
  /** Starts allowed per run before an expired lease fails it instead of re-queueing it. */
  readonly MAX_ATTEMPTS?: string;
  /** Peak memory one run may need by its estimate, in GB (the pull workers' machines decide it). */
  readonly MAX_RUN_GB?: string;
  /** Total work one run may need by its estimate, in PFLOP. */
  readonly MAX_RUN_PFLOPS?: string;
  /** Runs one project may have running at once; unset: no quota. */
  readonly PROJECT_MAX_RUNNING?: string;
}

const BindingSettings = z.object({
  // One isolate cannot wake another: SSE followers poll the log every heartbeat, so keep it short.
  SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  LEASE_SECONDS: z.coerce
    .number()
    .positive()
    .default(WORKER_DEFAULTS.leaseMs / 1000),
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
  MAX_RUN_GB: z.coerce
    .number()
    .positive()
    .default(DEFAULT_RUN_CEILINGS.maxRunBytes / 1e9),
  MAX_RUN_PFLOPS: z.coerce
    .number()
    .positive()
    .default(DEFAULT_RUN_CEILINGS.maxRunFlops / 1e15),
  PROJECT_MAX_RUNNING: z.coerce.number().int().min(1).optional(),
});

/** No in-process fan-out on Workers: followers find new events by reading the log. */
const pollingHub: EventHub = {
  subscribe: () => () => {},
  publish: () => {},
};

/** Nothing trains here: waking is the pull workers' business; a queued run is cancelled at once. */
function queueOnlyControl(db: Db, sink: StoredEventSink): RunControl {
  return {
    wake() {},
    async cancel(runId) {
      const run = await getRun(db, runId);
      if (run?.state !== "queued" || !run.cancelRequested) return;
      await sink.record(
        runId,
        run.attempt,
        {
          type: "run.failed",
          reason: "cancelled",
          message: "the run was cancelled before it started",
          epoch: null,
          step: null,
        },
        null,
      );
    },
  };
}

// Counts live per isolate (a Durable Object would share them): built at the first request,
// when the bindings are known, and kept for the isolate's life.
let auth: AuthServices | undefined;
const authOf = (env: CloudflareBindings) => {
  auth ??= inMemoryAuth({
    ...(env.STREAM_TOKEN_SECRET ? { streamTokenSecret: env.STREAM_TOKEN_SECRET } : {}),
    // Cloudflare sets this header itself; a client cannot forge it past the edge.
    clientAddress: (c) => c.req.header("cf-connecting-ip") ?? "unknown",
  });
  return auth;
};

/**
 * Workers' fetch cannot reach private networks and there is no DNS resolver to ask, so URLs are
 * checked on their literal addresses only (a name is not resolved before an attempt).
 */
const webhookPolicy: UrlPolicy = { allowPrivate: false, resolver: null };

const databaseOf = (env: CloudflareBindings): Db => drizzle(env.DB, { schema });

function servicesOf(env: CloudflareBindings): Services {
  const settings = BindingSettings.parse(env);
  const db = databaseOf(env);
  const events = new StoredEventSink(db, pollingHub);
  return {
    db,
    events,
    dispatcher: queueOnlyControl(db, events),
    // Checkpoints live with the pull workers, not here.
    artifacts: { remove: async () => {} },
    // Messages wait in the outbox for the cron's delivery pass (`scheduled` below).
    webhooks: { policy: webhookPolicy, wake() {} },
    clock: Date.now,
    sseHeartbeatMs: settings.SSE_HEARTBEAT_MS,
    idempotencyTtlMs: settings.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    auth: authOf(env),
    runCeilings: { maxRunBytes: settings.MAX_RUN_GB * 1e9, maxRunFlops: settings.MAX_RUN_PFLOPS * 1e15 },
    queuePolicy: { projectMaxRunning: settings.PROJECT_MAX_RUNNING ?? null },
    workers: {
      ...WORKER_DEFAULTS,
      leaseMs: settings.LEASE_SECONDS * 1000,
      checkpoints: env.CHECKPOINTS ? r2CheckpointStore(env.CHECKPOINTS) : null,
    },
  };
}

const logLine = (message: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ message, ...fields }));

const app = createApp({
  services: (c) => servicesOf(c.env as CloudflareBindings),
  // No data folder to write a generated key to: the first (operator) key is a secret.
  beforeAuth: bootstrapFromSetting((c) => ({
    name: "AUTOPROG_BOOTSTRAP_KEY",
    key: (c.env as CloudflareBindings).AUTOPROG_BOOTSTRAP_KEY,
  })),
  onServerError: (error, c) =>
    console.error(
      JSON.stringify({ message: "request failed", requestId: c.get("requestId"), error: String(error) }),
    ),
});

/** The cron trigger: one delivery pass over the outbox (no timers outlive an invocation here). */
async function deliverWebhooks(env: CloudflareBindings): Promise<void> {
  const deliverer = new WebhookDeliverer({ db: databaseOf(env), policy: webhookPolicy, log: logLine });
  const delivered = await deliverer.deliverDue();
  if (delivered > 0) logLine("webhook delivery pass", { attempts: delivered });
}

/**
 * The cron trigger's reaper: no dispatcher runs here, so runs whose pull worker stopped
 * heartbeating are re-queued (or failed when out of attempts) by the same sweep as on Node.
 */
async function sweepExpiredLeases(env: CloudflareBindings): Promise<void> {
  const settings = BindingSettings.parse(env);
  const db = databaseOf(env);
  const { requeued, ended } = await reapExpiredLeases(db, new StoredEventSink(db, pollingHub), {
    now: Date.now(),
    maxAttempts: settings.MAX_ATTEMPTS,
    leaseMs: settings.LEASE_SECONDS * 1000,
  });
  if (requeued.length + ended.length > 0)
    logLine("lease sweep", { requeued: requeued.map((r) => r.id), ended: ended.map((r) => r.id) });
}

/**
 * `scheduled` is typed by Cloudflare's handler type; `fetch` by Hono, whose standard `Request`
 * and Cloudflare's (with `cf`, without some browser-only fields) are each missing fields of the
 * other, though workerd passes one object that is both.
 */
export default {
  fetch: app.fetch,
  // Awaited rather than left to waitUntil: a failed pass shows as the cron event's exception.
  scheduled: async (_controller, env) => {
    await Promise.all([deliverWebhooks(env), sweepExpiredLeases(env)]);
  },
} satisfies Omit<ExportedHandler<CloudflareBindings>, "fetch"> & { fetch: typeof app.fetch };
