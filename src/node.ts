import { lookup } from "node:dns/promises";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type ServerType, serve } from "@hono/node-server";
import { openDatabase } from "../db/sqlite.ts";
import { createApp } from "./app.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { loadSettings, type Settings } from "./env.ts";
import { InMemoryEventHub } from "./events/hub.ts";
import { StoredEventSink } from "./events/sink.ts";
import type { HostResolver, UrlPolicy } from "./events/webhooks/address-guard.ts";
import { WebhookDeliverer } from "./events/webhooks/deliverer.ts";
import type { RunArtifacts } from "./services.ts";
import { keepNewestCheckpoints, removeStaleTemporaries } from "./worker/checkpoint-files.ts";
import { startTrainerThread } from "./worker/start.ts";

/**
 * The Node entry, the only place that wires the Node implementations: better-sqlite3 under the
 * data folder, the in-memory event hub, the worker-thread trainer and the HTTP server.
 * `npm start` and `autoprog serve` both land here.
 */
export interface RunningServer {
  readonly url: string;
  readonly dispatcher: Dispatcher;
  readonly sink: StoredEventSink;
  readonly hub: InMemoryEventHub;
  readonly deliverer: WebhookDeliverer;
  close(): Promise<void>;
}

export async function startServer(settings: Settings): Promise<RunningServer> {
  const log = (message: string, fields: Record<string, unknown> = {}) => {
    if (settings.log === "json")
      console.log(JSON.stringify({ time: new Date().toISOString(), message, ...fields }));
  };
  const runsDir = join(settings.dataDir, "runs");
  const checkpointsOf = (runId: string) => join(runsDir, runId, "checkpoints");
  for (const file of await removeStaleTemporaries(runsDir)) log("removed an unfinished write", { file });
  const database = openDatabase(settings.databaseFile);
  const hub = new InMemoryEventHub();
  const sink = new StoredEventSink(database.db, hub);
  const artifacts: RunArtifacts = {
    remove: (runId) => rm(join(runsDir, runId), { recursive: true, force: true }),
  };
  const dispatcher = new Dispatcher({
    db: database.db,
    sink,
    startTrainer: startTrainerThread,
    concurrency: settings.concurrency,
    maxAttempts: settings.maxAttempts,
    leaseMs: settings.leaseMs,
    dataDir: settings.dataDir,
    backend: settings.backend,
    cacheDir: settings.cacheDir,
    onRunFinished: (runId) => keepNewestCheckpoints(checkpointsOf(runId), settings.keepCheckpoints),
    log,
  });
  const policy: UrlPolicy = { allowPrivate: settings.webhooks.allowPrivate, resolver: dnsResolver };
  const deliverer = new WebhookDeliverer({
    db: database.db,
    policy,
    timeScale: settings.webhooks.timeScale,
    pollMs: settings.webhooks.pollMs,
    log,
  });
  const app = createApp({
    services: {
      db: database.db,
      events: sink,
      dispatcher,
      artifacts,
      webhooks: { policy, wake: () => deliverer.wake() },
      clock: Date.now,
      sseHeartbeatMs: settings.sseHeartbeatMs,
      idempotencyTtlMs: settings.idempotencyTtlMs,
    },
    onServerError: (error, c) =>
      log("request failed", { requestId: c.get("requestId"), path: c.req.path, error: String(error) }),
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: settings.host, port: settings.port }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : settings.port;
  const url = `http://${settings.host}:${port}`;
  await dispatcher.start();
  deliverer.start();
  log("listening", { url, database: settings.databaseFile, concurrency: settings.concurrency });
  return {
    url,
    dispatcher,
    sink,
    hub,
    deliverer,
    async close() {
      await dispatcher.stop();
      // After the trainers: their last events may still have queued messages; those stay due in the outbox.
      await deliverer.stop();
      // SSE streams would hold the server open; end every connection.
      if ("closeAllConnections" in server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      database.close();
    },
  };
}

/** Every address a name resolves to (IPv4 and IPv6), as the delivery's connect would see them. */
const dnsResolver: HostResolver = {
  resolve: async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address),
};

/** Serves until SIGINT/SIGTERM, then stops cleanly (running runs go back to the queue). */
export async function serveUntilSignalled(settings: Settings): Promise<void> {
  const running = await startServer(settings);
  const stop = () => {
    void running.close().then(() => {
      if (settings.log === "json")
        console.log(JSON.stringify({ time: new Date().toISOString(), message: "stopped" }));
      process.exit(0);
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await serveUntilSignalled(loadSettings());
}
