import { type AnyD1Database, drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import type { Db } from "../db/database.ts";
import { getRun } from "../db/runs.ts";
import * as schema from "../db/schema.ts";
import { WORKER_DEFAULTS } from "../routes/workers/lease-state.ts";
import { createApp } from "./app.ts";
import { inMemoryAuth } from "./auth/in-memory.ts";
import { type R2BucketLike, r2CheckpointStore } from "./checkpoints/r2-store.ts";
import type { RunControl } from "./dispatch/control.ts";
import type { EventHub } from "./events/hub.ts";
import { StoredEventSink } from "./events/sink.ts";
import type { AuthServices, Services } from "./services.ts";

/**
 * The Workers entry: the same app over D1 (drizzle's D1 driver; migrations are db/migrations,
 * applied with `wrangler d1 migrations apply`). Workers offer no GPU and no threads, so nothing
 * trains here: runs are trained by pull workers elsewhere, which claim them from the queue.
 * Nothing in this file may import a Node module (the neutral-bundle test bundles it).
 */
export interface CloudflareBindings {
  readonly DB: AnyD1Database;
  readonly SSE_HEARTBEAT_MS?: string;
  readonly IDEMPOTENCY_TTL_HOURS?: string;
  /** Signs stream tokens; set it, or a token minted by one isolate fails in another. */
  readonly STREAM_TOKEN_SECRET?: string;
  /** Pull workers' checkpoints (an R2 bucket); unbound: the checkpoint routes answer 503. */
  readonly CHECKPOINTS?: R2BucketLike;
}

const BindingSettings = z.object({
  // One isolate cannot wake another: SSE followers poll the log every heartbeat, so keep it short.
  SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
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

function servicesOf(env: CloudflareBindings): Services {
  const settings = BindingSettings.parse(env);
  const db: Db = drizzle(env.DB, { schema });
  const events = new StoredEventSink(db, pollingHub);
  return {
    db,
    events,
    dispatcher: queueOnlyControl(db, events),
    // Checkpoints live with the pull workers, not here.
    artifacts: { remove: async () => {} },
    // Messages wait in the outbox for a cron-driven WebhookDeliverer; Workers' fetch cannot reach
    // private networks, and without a resolver literal addresses are still checked.
    webhooks: { policy: { allowPrivate: false, resolver: null }, wake() {} },
    clock: Date.now,
    sseHeartbeatMs: settings.SSE_HEARTBEAT_MS,
    idempotencyTtlMs: settings.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    auth: authOf(env),
    workers: {
      ...WORKER_DEFAULTS,
      checkpoints: env.CHECKPOINTS ? r2CheckpointStore(env.CHECKPOINTS) : null,
    },
  };
}

const app = createApp({
  services: (c) => servicesOf(c.env as CloudflareBindings),
  onServerError: (error, c) =>
    console.error(
      JSON.stringify({ message: "request failed", requestId: c.get("requestId"), error: String(error) }),
    ),
});

export default { fetch: app.fetch };
