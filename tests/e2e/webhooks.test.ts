import { mkdtemp } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { runEvents, webhookOutbox } from "../../db/schema.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { createReceiver, type ReceivedMessage } from "../../examples/webhook-receiver.ts";
import { loadSettings } from "../../src/env.ts";
import { type RunningServer, startServer } from "../../src/node.ts";
import { runFailed, stageGrown } from "../../support/fixtures.ts";
import { ADMIN_KEY } from "../api/helpers.ts";

/**
 * Webhooks end to end: the real server (in process, real trainer threads, SQLite on disk), a
 * real HTTP receiver on loopback that verifies every delivery with the standardwebhooks package
 * (examples/webhook-receiver.ts), the receiver going down, and the server restarting mid-retry.
 */

interface Receiver {
  readonly url: string;
  readonly messages: ReceivedMessage[];
  readonly rejected: string[];
  secret: string;
  down(): Promise<void>;
  up(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  let server: Server | null = null;
  let port = 0;
  const receiver: Receiver = {
    url: "",
    messages: [],
    rejected: [],
    secret: "whsec_AAAA",
    async down() {
      const s = server;
      server = null;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        // Keep-alive sockets would still be served: end them too, so the port refuses connections.
        s.closeAllConnections();
      });
    },
    async up() {
      const s = createReceiver({
        secret: () => receiver.secret,
        onMessage: (m) => receiver.messages.push(m),
        onRejected: (reason) => receiver.rejected.push(reason),
      });
      await new Promise<void>((resolve) => s.listen(port, "127.0.0.1", () => resolve()));
      port = (s.address() as AddressInfo).port;
      server = s;
    },
  };
  await receiver.up();
  return Object.assign(receiver, { url: `http://127.0.0.1:${port}/hooks` });
}

const servers: RunningServer[] = [];
let receiver: Receiver | null = null;
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await receiver?.down();
});

async function serve(dataDir: string, concurrency: number): Promise<RunningServer> {
  const server = await startServer(
    loadSettings({
      AUTOPROG_PORT: "0",
      AUTOPROG_DATA_DIR: dataDir,
      AUTOPROG_CONCURRENCY: String(concurrency),
      AUTOPROG_LOG: "silent",
      AUTOPROG_BOOTSTRAP_KEY: ADMIN_KEY,
      AUTOPROG_WEBHOOK_ALLOW_PRIVATE: "true",
      // 5 s → 5 ms, 5 min → 300 ms, 30 min → 1.8 s: the schedule's first steps in well under a second.
      AUTOPROG_WEBHOOK_TIME_SCALE: "0.001",
      AUTOPROG_WEBHOOK_POLL_MS: "20",
    }),
  );
  servers.push(server);
  return server;
}

async function call<T>(server: RunningServer, path: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: init.method ?? "GET",
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function createWebhook(server: RunningServer, url: string, events: string[]) {
  const created = await call<{ id: string; secret: string }>(server, "/v1/webhooks", {
    method: "POST",
    body: { url, events },
  });
  if (receiver) receiver.secret = created.secret;
  return created;
}

const RUN_TYPES = [
  "run.stage.grown",
  "run.stage.search.completed",
  "run.succeeded",
  "run.failed",
  "run.cancelled",
];

describe("webhooks end to end", () => {
  it("delivers exactly one verified run.stage.grown per growth of a real prog run and a real autoprog run", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-webhooks-"));
    receiver = await startReceiver();
    const server = await serve(dataDir, 1);
    await createWebhook(server, receiver.url, RUN_TYPES);
    const experiment = await call<{ id: string; runs: { id: string; label: string }[] }>(
      server,
      "/v1/experiments",
      {
        method: "POST",
        body: {
          name: "webhooks",
          dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
          model: { variant: "micro", patchSize: 7, width: 16, depth: 2, heads: 2, mlpRatio: 2 },
          training: { epochs: 2, stages: 2, batchSize: 32, warmupEpochs: 0, evalBatchSize: 32, evalEvery: 2 },
          arms: [
            { arm: "prog" },
            { arm: "autoprog", supernetEpochs: 1, search: { cost: "flops", subsetSize: 32 } },
          ],
          backend: "wasm",
        },
      },
    );
    const runIds = experiment.runs.map((r) => r.id);
    const state = async (id: string) => (await call<{ state: string }>(server, `/v1/runs/${id}`)).state;
    for (const id of runIds) {
      await until(
        `run ${id} to finish`,
        async () => !["queued", "running"].includes(await state(id)),
        540_000,
      );
      expect(await state(id)).toBe("completed");
    }
    const database = openDatabase(join(dataDir, "autoprog.sqlite"));
    try {
      for (const runId of runIds) {
        const events = database.db
          .select()
          .from(runEvents)
          .where(eq(runEvents.runId, runId))
          .orderBy(runEvents.seq)
          .all();
        const growths = events.filter((e) => e.type === "stage.grown");
        const searches = events.filter((e) => e.type === "stage.search.completed");
        expect(growths.length).toBeGreaterThanOrEqual(1);
        await until(
          `the messages of ${runId}`,
          () => receiver?.messages.some((m) => m.data.runId === runId && m.type === "run.succeeded") ?? false,
        );
        const received = receiver.messages.filter((m) => m.data.runId === runId);
        // One message per event, each id once, in the order the events happened.
        const grown = received.filter((m) => m.type === "run.stage.grown");
        expect(grown.map((m) => m.id)).toEqual(growths.map((e) => `msg_${runId.slice(4)}_${e.seq}`));
        expect(received.filter((m) => m.type === "run.stage.search.completed")).toHaveLength(searches.length);
        expect(received.filter((m) => m.duplicate)).toEqual([]);
        for (const [i, message] of grown.entries()) {
          const event = JSON.parse(growths[i]?.payload ?? "{}");
          expect(message.data).toEqual({
            runId,
            experimentId: experiment.id,
            stage: event.stage,
            from: event.from,
            to: event.to,
            operator: event.operator,
            flopsBefore: event.flopsBefore,
            flopsAfter: event.flopsAfter,
            secondsSoFar: event.secondsSoFar,
          });
          expect(message.data.to).not.toEqual(message.data.from);
        }
      }
      const autoprogRun = runIds[1] ?? "";
      expect(
        receiver.messages.filter(
          (m) => m.data.runId === autoprogRun && m.type === "run.stage.search.completed",
        ).length,
      ).toBeGreaterThanOrEqual(1);
      expect(receiver.rejected).toEqual([]);
      // The receiver can hold the last message before the server has marked it delivered.
      const undelivered = () =>
        database.db
          .select()
          .from(webhookOutbox)
          .where(and(eq(webhookOutbox.state, "pending")))
          .all();
      await until("the outbox to drain", () => undelivered().length === 0, 10_000).catch(() => undefined);
      expect(undelivered()).toEqual([]);
    } finally {
      database.close();
    }
  }, 600_000);

  it("retries while the receiver is down, loses nothing, redelivers on request, and survives a restart mid-retry", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-webhooks-"));
    receiver = await startReceiver();
    const first = await serve(dataDir, 0);
    const webhook = await createWebhook(first, receiver.url, RUN_TYPES);
    const experiment = await call<{ runs: { id: string }[] }>(first, "/v1/experiments", {
      method: "POST",
      body: {
        name: "down",
        dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
        model: { variant: "micro", patchSize: 7, width: 16, depth: 2, heads: 2, mlpRatio: 2 },
        training: { epochs: 2, stages: 2 },
        arms: [{ arm: "prog" }],
      },
    });
    const runId = experiment.runs[0]?.id ?? "";
    type Deliveries = {
      items: {
        id: string;
        messageId: string;
        attempt: number;
        status: number | null;
        error: string | null;
      }[];
    };
    const deliveries = (server: RunningServer) =>
      call<Deliveries>(server, `/v1/webhooks/${webhook.id}/deliveries?limit=200`).then((p) => p.items);

    // The receiver is down while three events happen (no trainer: the sink takes them as a trainer's would).
    await receiver.down();
    await first.sink.record(runId, 1, stageGrown(1), "grown-1");
    await first.sink.record(runId, 1, stageGrown(2), "grown-2");
    await until("two failed attempts of each message", async () => {
      const failed = (await deliveries(first)).filter((d) => d.status === null);
      return new Set(failed.filter((d) => d.attempt >= 2).map((d) => d.messageId)).size === 2;
    });
    expect(receiver.messages).toEqual([]);
    await receiver.up();
    await until("both messages", () => receiver?.messages.length === 2, 10_000);
    expect(receiver.messages.map((m) => m.type)).toEqual(["run.stage.grown", "run.stage.grown"]);
    const log = await deliveries(first);
    const delivered = log.filter((d) => d.status === 204);
    expect(delivered).toHaveLength(2);
    for (const d of delivered) {
      expect(d.attempt).toBeGreaterThanOrEqual(3);
      // Every attempt before the one that got through failed to connect.
      const earlier = log.filter((x) => x.messageId === d.messageId && x.attempt < d.attempt);
      expect(earlier.map((x) => [x.status, x.error !== null])).toEqual(earlier.map(() => [null, true]));
    }

    // Redelivery: the same message, the same webhook-id, seen again by the receiver.
    const again = delivered[0];
    await call(first, `/v1/webhook-deliveries/${again?.id}/redeliver`, { method: "POST" });
    await until("the redelivery", () => receiver?.messages.length === 3, 10_000);
    expect(receiver.messages[2]).toMatchObject({ id: again?.messageId, duplicate: true });

    // Down again; the run fails; the first server stops while that message waits for its retry.
    await receiver.down();
    await first.sink.record(runId, 1, runFailed("error", "out of memory"), null);
    await until("a failed attempt of run.failed", async () =>
      (await deliveries(first)).some(
        (d) => d.status === null && !receiver?.messages.some((m) => m.id === d.messageId),
      ),
    );
    await servers.splice(servers.indexOf(first), 1)[0]?.close();
    const database = openDatabase(join(dataDir, "autoprog.sqlite"));
    const pending = database.db.select().from(webhookOutbox).where(eq(webhookOutbox.state, "pending")).all();
    database.close();
    expect(pending.map((r) => r.type)).toEqual(["run.failed"]);

    await receiver.up();
    const second = await serve(dataDir, 0);
    await until(
      "run.failed after the restart",
      () => receiver?.messages.some((m) => m.type === "run.failed") ?? false,
      10_000,
    );
    const failedMessage = receiver.messages.find((m) => m.type === "run.failed");
    expect(failedMessage?.data).toMatchObject({ runId, reason: "error", message: "out of memory" });
    const afterRestart = (await deliveries(second)).filter((d) => d.messageId === failedMessage?.id);
    expect(afterRestart[0]).toMatchObject({ status: 204 });
    expect(afterRestart[0]?.attempt).toBe(afterRestart.length);
    expect(afterRestart.length).toBeGreaterThanOrEqual(2);
    expect(receiver.rejected).toEqual([]);
  });
});
