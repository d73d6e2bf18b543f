import { createHash } from "node:crypto";
import { count } from "drizzle-orm";
import { expect } from "vitest";
import type { Db } from "../../db/database.ts";
import { claimRun } from "../../db/queue.ts";
import * as schema from "../../db/schema.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { RunAnswerCache } from "../../routes/runs/answer-cache.ts";
import { type AppDeps, createApp } from "../../src/app.ts";
import type { AuthOptions } from "../../src/auth/in-memory.ts";
import { inMemoryAuth } from "../../src/auth/in-memory.ts";
import type { RunCeilings } from "../../src/core/run-cost.ts";
import { Dispatcher } from "../../src/dispatch/dispatcher.ts";
import { InMemoryEventHub } from "../../src/events/hub.ts";
import { StoredEventSink } from "../../src/events/sink.ts";
import type { HostResolver } from "../../src/events/webhooks/address-guard.ts";
import type {
  DatasetRootPolicy,
  QueuePolicy,
  UploadedCheckpointStore,
  WorkerServices,
} from "../../src/services.ts";

export { tinySpec } from "../../support/fixtures.ts";

/** The keys every test app starts with, both of project `default`. */
export const ADMIN_KEY = `ap_${"test-admin-".padEnd(43, "a")}`;
export const MEMBER_KEY = `ap_${"test-member-".padEnd(43, "m")}`;
/** A pull worker's key of project `default`. */
export const WORKER_KEY = `ap_${"test-worker-".padEnd(43, "w")}`;
export const WORKER = { authorization: `Bearer ${WORKER_KEY}` };

/** A checkpoint store in memory (what the Node folder store and R2 do, without files). */
export function memoryCheckpointStore(): UploadedCheckpointStore & {
  readonly blobs: Map<string, Uint8Array>;
} {
  const blobs = new Map<string, Uint8Array>();
  return {
    blobs,
    put: async (runId, epoch, body) => {
      blobs.set(`${runId}/${epoch}`, new Uint8Array(body));
    },
    get: async (runId, epoch) => {
      const body = blobs.get(`${runId}/${epoch}`);
      return body ? new Uint8Array(body) : null;
    },
    list: async (runId) =>
      [...blobs.entries()]
        .filter(([key]) => key.startsWith(`${runId}/`))
        .map(([key, body]) => ({ epoch: Number(key.slice(runId.length + 1)), bytes: body.byteLength }))
        .sort((a, b) => a.epoch - b.epoch),
    remove: async (runId) => {
      for (const key of [...blobs.keys()]) if (key.startsWith(`${runId}/`)) blobs.delete(key);
    },
  };
}

/** SHA-256 with node:crypto: an implementation independent of the server's Web Crypto one. */
const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");

/**
 * An app over a fresh in-memory database. The dispatcher is real but takes no runs
 * (concurrency 0), so runs stay queued unless a test moves them. `app.request` sends the
 * member key unless the request names its own `authorization`; `raw` sends nothing extra.
 * The client address is the `x-test-client` header (default `test`).
 */
export function testApp(
  options: {
    heartbeatMs?: number;
    /** AUTOPROG_SSE_BUFFER_BYTES; absent: the route's default. */
    sseBufferBytes?: number;
    auth?: Omit<AuthOptions, "clientAddress">;
    app?: Omit<AppDeps, "services">;
    allowPrivateWebhooks?: boolean;
    resolver?: HostResolver;
    workers?: Partial<WorkerServices>;
    runCeilings?: RunCeilings;
    queuePolicy?: QueuePolicy;
    datasetRoots?: DatasetRootPolicy;
    /** AUTOPROG_RUN_CACHE_SIZE; absent: the default. */
    runCacheSize?: number;
  } = {},
) {
  const woken = { count: 0 };
  const database = openDatabase(":memory:");
  const db = database.db;
  let now = Date.parse("2026-01-01T00:00:00Z");
  const clock = () => now;
  const hub = new InMemoryEventHub();
  const sink = new StoredEventSink(db, hub, clock);
  const removedArtifacts: string[] = [];
  const checkpoints = memoryCheckpointStore();
  const finishedRuns: string[] = [];
  const dispatcher = new Dispatcher({
    db,
    sink,
    startTrainer: () => {
      throw new Error("API tests train nothing (concurrency 0)");
    },
    concurrency: 0,
    maxAttempts: 3,
    dataDir: "/nonexistent",
    clock,
  });
  const created = Date.parse("2026-01-01T00:00:00Z");
  db.insert(schema.projects).values({ id: schema.DEFAULT_PROJECT, createdAt: created }).run();
  db.insert(schema.apiKeys)
    .values([
      {
        id: "key_admin",
        projectId: "default",
        role: "admin",
        name: "admin",
        hash: sha256(ADMIN_KEY),
        createdAt: created,
      },
      {
        id: "key_member",
        projectId: "default",
        role: "member",
        name: "member",
        hash: sha256(MEMBER_KEY),
        createdAt: created,
      },
      {
        id: "key_worker",
        projectId: "default",
        role: "worker",
        name: "worker",
        hash: sha256(WORKER_KEY),
        createdAt: created,
      },
    ])
    .run();
  const runAnswers = new RunAnswerCache(options.runCacheSize ?? 10_000, database.runChanges);
  const raw = createApp({
    ...options.app,
    services: {
      db,
      events: sink,
      dispatcher,
      artifacts: {
        remove: async (runId) => {
          removedArtifacts.push(runId);
        },
      },
      webhooks: {
        policy: { allowPrivate: options.allowPrivateWebhooks ?? true, resolver: options.resolver ?? null },
        wake: () => {
          woken.count++;
        },
      },
      clock,
      sseHeartbeatMs: options.heartbeatMs ?? 15_000,
      ...(options.sseBufferBytes !== undefined ? { sseBufferBytes: options.sseBufferBytes } : {}),
      idempotencyTtlMs: 3_600_000,
      auth: inMemoryAuth({ ...options.auth, clientAddress: (c) => c.req.header("x-test-client") ?? "test" }),
      ...(options.runCeilings ? { runCeilings: options.runCeilings } : {}),
      ...(options.queuePolicy ? { queuePolicy: options.queuePolicy } : {}),
      ...(options.datasetRoots ? { datasetRoots: options.datasetRoots } : {}),
      // As the Node server: every API test that changes a run and reads it back checks the cache's invalidation.
      runAnswers,
      workers: {
        leaseMs: 60_000,
        checkpoints,
        maxCheckpointBytes: 1024 * 1024,
        pollMs: 20,
        onRunFinished: async (runId) => {
          finishedRuns.push(runId);
        },
        ...options.workers,
      },
    },
  });
  const app = {
    request(path: string, init: RequestInit = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${MEMBER_KEY}`);
      return raw.request(path, { ...init, headers });
    },
  };
  /** Creates a key (and its project) as `POST /v1/keys` would; returns the key itself. */
  const keyFor = async (project: string, role: schema.KeyRole, name = `${project}-${role}`) => {
    const key = `ap_${crypto.randomUUID().replaceAll("-", "")}`;
    db.insert(schema.projects).values({ id: project, createdAt: now }).onConflictDoNothing().run();
    const id = `key_${project}_${role}_${Math.random().toString(36).slice(2, 8)}`;
    db.insert(schema.apiKeys)
      .values({ id, projectId: project, role, name, hash: sha256(key), createdAt: now })
      .run();
    return { key, id, headers: { authorization: `Bearer ${key}` } };
  };
  return {
    app,
    raw,
    keyFor,
    db,
    sink,
    hub,
    dispatcher,
    runAnswers,
    removedArtifacts,
    /** The pull workers' checkpoint store, and the runs a worker's terminal event ended. */
    checkpoints,
    finishedRuns,
    /** How often a route asked the webhook deliverer to run now. */
    woken,
    close: database.close,
    advance: (ms: number) => {
      now += ms;
    },
    json: (path: string, init?: RequestInit) => app.request(path, init),
    post: (path: string, body: unknown, headers: Record<string, string> = {}) =>
      app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
  };
}

export type TestApp = ReturnType<typeof testApp>;

/** Takes the next queued run as a trainer would (leased to "test"). */
export async function claimForTest(db: Db) {
  return claimRun(db, { owner: "test", now: Date.now(), leaseMs: 60_000 });
}

/** Row counts of every table: "nothing was written" is all of them unchanged. */
export async function tableCounts(db: Db): Promise<Record<string, number>> {
  const tables = {
    experiments: schema.experiments,
    runs: schema.runs,
    stages: schema.stages,
    searchCandidates: schema.searchCandidates,
    runEvents: schema.runEvents,
    metricPoints: schema.metricPoints,
    idempotencyKeys: schema.idempotencyKeys,
    projects: schema.projects,
    apiKeys: schema.apiKeys,
    webhookEndpoints: schema.webhookEndpoints,
    webhookOutbox: schema.webhookOutbox,
    webhookDeliveries: schema.webhookDeliveries,
  };
  const counts: Record<string, number> = {};
  for (const [name, table] of Object.entries(tables)) {
    const [row] = await db.select({ n: count() }).from(table);
    counts[name] = row?.n ?? 0;
  }
  return counts;
}

/** The JSON body of a response, typed by the caller (the route schemas give the types). */
export async function read<T>(response: Response | Promise<Response>): Promise<T> {
  return (await (await response).json()) as T;
}

/** Asserts a problem+json answer; returns its body for further checks. */
export async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, type: `urn:autoprog:problem:${code}` });
  expect(body.requestId).toBe(response.headers.get("x-request-id"));
  return body;
}
