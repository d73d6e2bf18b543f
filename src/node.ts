import { hash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { access, chmod, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import type { Db } from "../db/database.ts";
import { openDatabase } from "../db/sqlite.ts";
import { isLoopback, LOOPBACK_HOSTS } from "../routes/common/guards.ts";
import { RunAnswerCache } from "../routes/runs/answer-cache.ts";
import { createApp } from "./app.ts";
import { bootstrapAdminKey } from "./auth/bootstrap.ts";
import { inMemoryAuth } from "./auth/in-memory.ts";
import { directoryCheckpointStore } from "./checkpoints/directory-store.ts";
import { RUNS_FOLDER, runCheckpointsPath } from "./core/checkpoint-layout.ts";
import { resolveSymlinks } from "./data/real-path.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { adminKeyFile, type Settings } from "./env.ts";
import { InMemoryEventHub } from "./events/hub.ts";
import { StoredEventSink } from "./events/sink.ts";
import type { HostResolver, UrlPolicy } from "./events/webhooks/address-guard.ts";
import { publicOnlyFetch } from "./events/webhooks/connect-guard.ts";
import { WebhookDeliverer } from "./events/webhooks/deliverer.ts";
import { listen } from "./http-listener.ts";
import type { RunArtifacts } from "./services.ts";
import { browseUrl, createLog, logStart } from "./start-log.ts";
import { readUiDist } from "./ui-bundle/dist.ts";
import { keepNewestCheckpoints, removeStaleTemporaries } from "./worker/checkpoint-files.ts";
import { startTrainerProcess } from "./worker/trainer-process.ts";

/**
 * The Node entry, the only place that wires the Node implementations: better-sqlite3 under the
 * data folder, the in-memory event hub, the trainer processes and the HTTP server.
 * `npm start` (src/serve.ts) and `autoprog serve` both land here; importing it starts nothing.
 */
export interface RunningServer {
  readonly url: string;
  readonly dispatcher: Dispatcher;
  readonly sink: StoredEventSink;
  readonly hub: InMemoryEventHub;
  readonly deliverer: WebhookDeliverer;
  close(): Promise<void>;
}

/**
 * First start: creates the operator key (home project `default`), prints it once on stderr and writes
 * it to `<data dir>/admin-key` (0600, only the owner may read it). Returns the file, or null
 * when keys already existed.
 */
export async function bootstrapKeyFile(db: Db, settings: Settings): Promise<string | null> {
  const key = await bootstrapAdminKey(db, { given: settings.bootstrapKey, now: Date.now() });
  if (key === null) return null;
  const file = adminKeyFile(settings.dataDir);
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  // `mode` only applies to a new file; an older file from a wiped database keeps its own.
  await chmod(file, 0o600);
  process.stderr.write(
    `autoprog: created the first key (operator, home project default), also in ${file}:\n${key}\n`,
  );
  return file;
}

/** The socket's address; X-Forwarded-For's last entry (what our proxy saw) only when trusted. */
function clientAddressOf(trustProxy: boolean) {
  return (c: Context) => {
    const forwarded = trustProxy ? c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim() : undefined;
    return forwarded || (getConnInfo(c).remote.address ?? "unknown");
  };
}

export async function startServer(settings: Settings): Promise<RunningServer> {
  const log = createLog(settings.log);
  const runsDir = join(settings.dataDir, RUNS_FOLDER);
  const checkpointsOf = (runId: string) => join(settings.dataDir, runCheckpointsPath(runId));
  for (const file of await removeStaleTemporaries(runsDir)) log("removed an unfinished write", { file });
  const database = openDatabase(settings.databaseFile);
  const createdKeyFile = await bootstrapKeyFile(database.db, settings);
  const hub = new InMemoryEventHub();
  const sink = new StoredEventSink(database.db, hub);
  const artifacts: RunArtifacts = {
    remove: (runId) => rm(join(runsDir, runId), { recursive: true, force: true }),
  };
  const onRunFinished = (runId: string) =>
    keepNewestCheckpoints(checkpointsOf(runId), settings.keepCheckpoints, settings.keepStageCheckpoints);
  const dispatcher = new Dispatcher({
    db: database.db,
    sink,
    startTrainer: startTrainerProcess,
    graceMs: settings.trainerGraceMs,
    silenceMs: settings.trainerSilenceMs,
    // With pull workers this process trains nothing; it still sweeps expired leases.
    concurrency: settings.dispatch === "workers" ? 0 : settings.concurrency,
    maxAttempts: settings.maxAttempts,
    projectMaxRunning: settings.projectMaxRunning,
    leaseMs: settings.leaseMs,
    dataDir: settings.dataDir,
    backend: settings.backend,
    cacheDir: settings.cacheDir,
    onRunFinished,
    log,
  });
  const policy: UrlPolicy = { allowPrivate: settings.webhooks.allowPrivate, resolver: dnsResolver };
  const deliverer = new WebhookDeliverer({
    db: database.db,
    policy,
    timeScale: settings.webhooks.timeScale,
    pollMs: settings.webhooks.pollMs,
    // The address is checked again on the socket's own lookup (DNS rebinding).
    ...(settings.webhooks.allowPrivate ? {} : { fetch: publicOnlyFetch() }),
    log,
  });
  const app = createApp({
    maxBodyBytes: settings.maxBodyBytes,
    // On loopback, a page elsewhere could reach the server through DNS rebinding: answer only loopback names.
    allowedHosts: settings.allowedHosts ?? (isLoopback(settings.host) ? [...LOOPBACK_HOSTS] : null),
    ui: await readUiDist(),
    services: {
      db: database.db,
      events: sink,
      dispatcher,
      artifacts,
      webhooks: { policy, wake: () => deliverer.wake() },
      clock: Date.now,
      sseHeartbeatMs: settings.sseHeartbeatMs,
      sseBufferBytes: settings.sseBufferBytes,
      idempotencyTtlMs: settings.idempotencyTtlMs,
      auth: inMemoryAuth({
        requestsPerMinute: settings.requestsPerMinute,
        workerRequestsPerMinute: settings.workerRequestsPerMinute,
        failedAuthPerMinute: settings.failedAuthPerMinute,
        streamsPerKey: settings.streamsPerKey,
        keyCacheSeconds: settings.keyCacheSeconds,
        // One-shot: no Hash object per request (node:crypto's `hash`, Node 20.12 on).
        hashKey: (key) => hash("sha256", key, "hex"),
        ...(settings.streamTokenSecret ? { streamTokenSecret: settings.streamTokenSecret } : {}),
        clientAddress: clientAddressOf(settings.trustProxy),
      }),
      datasetRoots: { dataDir: settings.dataDir, allowed: settings.datasetRoots, realpath: resolveSymlinks },
      runCeilings: settings.runCeilings,
      queuePolicy: { projectMaxRunning: settings.projectMaxRunning },
      runAnswers: new RunAnswerCache(settings.runCacheSize, database.runChanges),
      workers: {
        leaseMs: settings.leaseMs,
        checkpoints: directoryCheckpointStore(runsDir),
        maxCheckpointBytes: settings.maxCheckpointBytes,
        pollMs: 250,
        onRunFinished,
      },
    },
    onServerError: (error, c) =>
      log("request failed", { requestId: c.get("requestId"), path: c.req.path, error: String(error) }),
  });
  const server = await listen({ fetch: app.fetch, hostname: settings.host, port: settings.port });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : settings.port;
  const url = browseUrl(settings.host, port);
  await dispatcher.start();
  deliverer.start();
  const keyFile = adminKeyFile(settings.dataDir);
  logStart(settings.log, {
    url,
    database: settings.databaseFile,
    dispatch: settings.dispatch,
    concurrency: settings.dispatch === "workers" ? 0 : settings.concurrency,
    // A file from an earlier first start is still where the key is, unless someone removed it.
    adminKeyFile: createdKeyFile ?? ((await fileExists(keyFile)) ? keyFile : null),
    adminKeyCreated: createdKeyFile !== null,
  });
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

const fileExists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** Every address a name resolves to (IPv4 and IPv6), as the delivery's connect would see them. */
const dnsResolver: HostResolver = {
  resolve: async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address),
};

/** Serves until SIGINT/SIGTERM, then stops cleanly (running runs go back to the queue). */
export async function serveUntilSignalled(settings: Settings): Promise<void> {
  const running = await startServer(settings);
  const stop = () => {
    void running.close().then(() => {
      createLog(settings.log)("stopped");
      process.exit(0);
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
