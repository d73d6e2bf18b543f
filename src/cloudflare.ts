import type { D1Database, ExportedHandler } from "@cloudflare/workers-types";
import { drizzle } from "drizzle-orm/d1";
import type { Db } from "../db/database.ts";
import { getRun } from "../db/runs.ts";
import * as schema from "../db/schema.ts";
import { WORKER_DEFAULTS } from "../routes/workers/lease-state.ts";
import { createApp } from "./app.ts";
import { bootstrapFromSetting } from "./auth/bootstrap-guard.ts";
import { inMemoryAuth } from "./auth/in-memory.ts";
import { type R2BucketLike, r2CheckpointStore } from "./checkpoints/r2-store.ts";
import type { RunControl } from "./dispatch/control.ts";
import { reapExpiredLeases } from "./dispatch/reaper.ts";
import type { EventHub } from "./events/hub.ts";
import { StoredEventSink } from "./events/sink.ts";
import type { UrlPolicy } from "./events/webhooks/address-guard.ts";
import { WebhookDeliverer } from "./events/webhooks/deliverer.ts";
import type { AuthServices, Services } from "./services.ts";
import {
  readWorkersSettings,
  type WorkersSettingBindings,
  workersBindingOf,
  workersSecret,
} from "./settings/read.ts";

/**
 * The Workers entry: the same app over D1 (drizzle's D1 driver; migrations are db/migrations,
 * applied with `wrangler d1 migrations apply`). Workers offer no GPU and no threads, so nothing
 * trains here: runs are trained by pull workers elsewhere, which claim them from the queue.
 * Webhooks are delivered, and expired pull-worker leases swept, by the cron trigger (wrangler.toml),
 * which runs `scheduled` each minute.
 * Nothing in this file may import a Node module (the neutral-bundle test bundles it, and
 * tests/cloudflare/ builds it with wrangler and runs it in workerd).
 */
/**
 * The bindings: the D1 database, the optional R2 bucket, and the settings, each under the
 * Workers name src/settings/table.ts gives it (docs/configuration.md lists them).
 */
export interface CloudflareBindings extends WorkersSettingBindings {
  readonly DB: D1Database;
  /** Pull workers' checkpoints (an R2 bucket); unbound: the checkpoint routes answer 503. */
  readonly CHECKPOINTS?: R2BucketLike;
}

/** No in-process fan-out on Workers: followers find new events by reading the log. */
const pollingHub: EventHub = {
  subscribe: () => () => {},
  publish: () => {},
};

/** Nothing trains here: waking is the pull workers' business; a queued or paused run is cancelled at once. */
function queueOnlyControl(db: Db, sink: StoredEventSink): RunControl {
  return {
    wake() {},
    // A running run hears of a pause at its pull worker's next heartbeat.
    pause() {},
    async cancel(runId) {
      const run = await getRun(db, runId);
      if ((run?.state !== "queued" && run?.state !== "paused") || !run.cancelRequested) return;
      await sink.record(
        runId,
        run.attempt,
        {
          type: "run.failed",
          reason: "cancelled",
          message:
            run.state === "paused"
              ? "the run was cancelled while paused"
              : "the run was cancelled before it started",
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
  const streamTokenSecret = workersSecret(env, "streamTokenSecret");
  auth ??= inMemoryAuth({
    ...(streamTokenSecret ? { streamTokenSecret } : {}),
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
  const settings = readWorkersSettings(env);
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
    sseHeartbeatMs: settings.sseHeartbeatMs,
    idempotencyTtlMs: settings.idempotencyTtlHours * 3_600_000,
    auth: authOf(env),
    runCeilings: { maxRunBytes: settings.maxRunGb * 1e9, maxRunFlops: settings.maxRunPflops * 1e15 },
    queuePolicy: { projectMaxRunning: settings.projectMaxRunning ?? null },
    workers: {
      ...WORKER_DEFAULTS,
      leaseMs: settings.leaseSeconds * 1000,
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
    name: workersBindingOf("bootstrapKey"),
    key: workersSecret(c.env as CloudflareBindings, "bootstrapKey"),
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
  const settings = readWorkersSettings(env);
  const db = databaseOf(env);
  const { requeued, ended } = await reapExpiredLeases(db, new StoredEventSink(db, pollingHub), {
    now: Date.now(),
    maxAttempts: settings.maxAttempts,
    leaseMs: settings.leaseSeconds * 1000,
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
