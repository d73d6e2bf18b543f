import { count } from "drizzle-orm";
import { expect } from "vitest";
import { type Db, openDatabase } from "../../db/client.ts";
import * as schema from "../../db/schema.ts";
import { createApp } from "../../src/app.ts";
import { Dispatcher } from "../../src/dispatch/dispatcher.ts";
import { EventHub } from "../../src/events/hub.ts";
import { EventSink } from "../../src/events/sink.ts";

export { tinySpec } from "./fixtures.ts";

/**
 * An app over a fresh in-memory database. The dispatcher is real but takes no runs
 * (concurrency 0), so runs stay queued unless a test moves them.
 */
export function testApp(options: { heartbeatMs?: number } = {}) {
  const database = openDatabase(":memory:");
  const db = database.db;
  let now = Date.parse("2026-01-01T00:00:00Z");
  const clock = () => now;
  const sink = new EventSink(db, new EventHub(), clock);
  const dispatcher = new Dispatcher({
    db,
    sink,
    concurrency: 0,
    maxAttempts: 3,
    dataDir: "/nonexistent",
    clock,
  });
  const app = createApp({
    services: {
      db,
      events: sink,
      dispatcher,
      clock,
      sseHeartbeatMs: options.heartbeatMs ?? 15_000,
      idempotencyTtlMs: 3_600_000,
    },
  });
  return {
    app,
    db,
    sink,
    dispatcher,
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

/** Row counts of every table: "nothing was written" is all of them unchanged. */
export async function tableCounts(db: Db): Promise<Record<string, number>> {
  const tables = {
    experiments: schema.experiments,
    runs: schema.runs,
    stages: schema.stages,
    searchCandidates: schema.searchCandidates,
    runEvents: schema.runEvents,
    metrics: schema.metrics,
    idempotencyKeys: schema.idempotencyKeys,
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
