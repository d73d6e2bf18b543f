import { pathToFileURL } from "node:url";
import { type ServerType, serve } from "@hono/node-server";
import { openDatabase } from "../db/client.ts";
import { createApp } from "./app.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { loadSettings, type Settings } from "./env.ts";
import { EventHub } from "./events/hub.ts";
import { EventSink } from "./events/sink.ts";

/**
 * The Node entry: better-sqlite3 under the data folder, the embedded worker-thread dispatcher
 * and the HTTP server. `npm start` and `autoprog serve` both land here.
 */
export interface RunningServer {
  readonly url: string;
  readonly dispatcher: Dispatcher;
  readonly sink: EventSink;
  close(): Promise<void>;
}

export async function startServer(settings: Settings): Promise<RunningServer> {
  const log = (message: string, fields: Record<string, unknown> = {}) => {
    if (settings.log === "json")
      console.log(JSON.stringify({ time: new Date().toISOString(), message, ...fields }));
  };
  const database = openDatabase(settings.databaseFile);
  const sink = new EventSink(database.db, new EventHub());
  const dispatcher = new Dispatcher({
    db: database.db,
    sink,
    concurrency: settings.concurrency,
    maxAttempts: settings.maxAttempts,
    dataDir: settings.dataDir,
    backend: settings.backend,
    cacheDir: settings.cacheDir,
    log,
  });
  const app = createApp({
    services: {
      db: database.db,
      events: sink,
      dispatcher,
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
  log("listening", { url, database: settings.databaseFile, concurrency: settings.concurrency });
  return {
    url,
    dispatcher,
    sink,
    async close() {
      await dispatcher.stop();
      // SSE streams would hold the server open; end every connection.
      if ("closeAllConnections" in server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      database.close();
    },
  };
}

/** Serves until SIGINT/SIGTERM, then stops cleanly (running runs go back to the queue). */
export async function serveUntilSignalled(settings: Settings): Promise<void> {
  const running = await startServer(settings);
  const stop = () => {
    void running.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await serveUntilSignalled(loadSettings());
}
