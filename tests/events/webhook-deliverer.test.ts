import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as schema from "../../db/schema.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { enqueueMessage } from "../../db/webhooks.ts";
import { InMemoryEventHub } from "../../src/events/hub.ts";
import { StoredEventSink } from "../../src/events/sink.ts";
import type { UrlPolicy } from "../../src/events/webhooks/address-guard.ts";
import { WebhookDeliverer } from "../../src/events/webhooks/deliverer.ts";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS, retryDelay } from "../../src/events/webhooks/schedule.ts";
import { newSecret } from "../../src/events/webhooks/signature.ts";
import { queuedRunRow, runFailed, stageGrown } from "../../support/fixtures.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const SECRET = newSecret();

interface Call {
  readonly url: string;
  readonly init: RequestInit;
}

/** A receiver that answers from a script (the last answer repeats) and records every request. */
function scriptedFetch(answers: (() => Response | Promise<Response>)[]) {
  const calls: Call[] = [];
  const fake = async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init: init ?? {} });
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (!answer) throw new Error("no answer scripted");
    return answer();
  };
  return { calls, fetch: fake as typeof fetch };
}

let database: ReturnType<typeof openDatabase>;
let now: number;
beforeEach(async () => {
  database = openDatabase(":memory:");
  now = T0;
  const { db } = database;
  await db.insert(schema.experiments).values({ id: "exp_1", name: "x", spec: {} as never, createdAt: T0 });
  await db.insert(schema.runs).values(queuedRunRow("run_1", 0));
  await db.insert(schema.webhookEndpoints).values({
    id: "whk_1",
    projectId: schema.DEFAULT_PROJECT,
    url: "http://receiver.test/hooks",
    events: ["run.stage.grown", "run.failed"],
    secret: SECRET,
    createdAt: T0,
  });
});
afterEach(() => database.close());

function deliverer(fetch: typeof globalThis.fetch, options: { policy?: UrlPolicy; timeoutMs?: number } = {}) {
  return new WebhookDeliverer({
    db: database.db,
    policy: options.policy ?? { allowPrivate: true, resolver: null },
    fetch,
    clock: () => now,
    random: () => 0.5, // no jitter: the schedule's exact steps
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

const outbox = () => database.db.select().from(schema.webhookOutbox).all();
const deliveries = () =>
  database.db.select().from(schema.webhookDeliveries).orderBy(schema.webhookDeliveries.id).all();
const endpoint = () =>
  database.db.select().from(schema.webhookEndpoints).where(eq(schema.webhookEndpoints.id, "whk_1")).get();

async function enqueue(messageId = "msg_t") {
  const body = JSON.stringify({ type: "webhook.test", timestamp: new Date(now).toISOString(), data: {} });
  return enqueueMessage(database.db, { endpointId: "whk_1", messageId, type: "webhook.test", body, now });
}

describe("the outbox", () => {
  it("gets one row per subscribed endpoint of the run's project, in the event's batch, once per event", async () => {
    const { db } = database;
    await db.insert(schema.webhookEndpoints).values([
      {
        id: "whk_other",
        projectId: "other",
        url: "http://x.test",
        events: ["run.stage.grown"],
        secret: SECRET,
        createdAt: T0,
      },
      {
        id: "whk_off",
        projectId: "default",
        url: "http://x.test",
        events: ["run.stage.grown"],
        secret: SECRET,
        createdAt: T0,
        enabled: false,
      },
      {
        id: "whk_fail",
        projectId: "default",
        url: "http://x.test",
        events: ["run.failed"],
        secret: SECRET,
        createdAt: T0,
      },
    ]);
    const sink = new StoredEventSink(db, new InMemoryEventHub(), () => now);
    expect(await sink.record("run_1", 1, stageGrown(1), "grown-1")).toBe(1);
    // A resumed trainer re-emits the same event: neither the event nor its message is stored again.
    expect(await sink.record("run_1", 2, stageGrown(1), "grown-1")).toBeNull();
    const rows = outbox();
    expect(rows.map((r) => [r.endpointId, r.messageId, r.type, r.state])).toEqual([
      ["whk_1", "msg_1_1", "run.stage.grown", "pending"],
    ]);
    expect(JSON.parse(rows[0]?.body ?? "")).toEqual({
      type: "run.stage.grown",
      timestamp: new Date(T0).toISOString(),
      data: {
        runId: "run_1",
        experimentId: "exp_1",
        stage: 1,
        from: { depth: 1, side: 14, tokens: 5 },
        to: { depth: 2, side: 28, tokens: 17 },
        operator: "mogrow",
        flopsBefore: 1e5,
        flopsAfter: 6e5,
        secondsSoFar: 1.5,
      },
    });
    await sink.record("run_1", 2, runFailed("error", "boom"), null);
    expect(
      outbox()
        .filter((r) => r.type === "run.failed")
        .map((r) => [r.endpointId, r.messageId]),
    ).toEqual([
      ["whk_1", "msg_1_2"],
      ["whk_fail", "msg_1_2"],
    ]);
  });
});

describe("the deliverer", () => {
  it("signs each attempt so standardwebhooks verifies it, and records a delivered message", async () => {
    const receiver = scriptedFetch([() => new Response("ok", { status: 200 })]);
    await enqueue();
    expect(await deliverer(receiver.fetch).deliverDue()).toBe(1);
    const [call] = receiver.calls;
    const headers = call?.init.headers as Record<string, string>;
    expect(call?.init).toMatchObject({ method: "POST", redirect: "manual" });
    expect(headers["webhook-id"]).toBe("msg_t");
    expect(headers["webhook-timestamp"]).toBe(String(T0 / 1000));
    // standardwebhooks checks the timestamp against the real clock: verify the signature as of T0.
    const hook = new Webhook(SECRET);
    expect(headers["webhook-signature"]).toBe(hook.sign("msg_t", new Date(T0), String(call?.init.body)));
    expect(outbox()[0]).toMatchObject({ state: "delivered", attempts: 1, nextAttemptAt: null });
    expect(deliveries()).toMatchObject([{ attempt: 1, status: 200, error: null, messageId: "msg_t" }]);
  });

  it("retries on the schedule (at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h), then fails the message and disables the endpoint", async () => {
    const receiver = scriptedFetch([() => new Response("down", { status: 500 })]);
    const d = deliverer(receiver.fetch);
    await enqueue();
    const waits: number[] = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      expect(await d.deliverDue()).toBe(1);
      const row = outbox()[0];
      if (attempt < MAX_ATTEMPTS) {
        const due = row?.nextAttemptAt ?? 0;
        waits.push(due - now);
        // Not a moment early.
        now = due - 1;
        expect(await d.deliverDue()).toBe(0);
        now = due;
      }
    }
    expect(waits).toEqual([...RETRY_DELAYS_MS]);
    expect(receiver.calls).toHaveLength(7);
    expect(
      new Set(receiver.calls.map((c) => (c.init.headers as Record<string, string>)["webhook-id"])),
    ).toEqual(new Set(["msg_t"]));
    expect(outbox()[0]).toMatchObject({ state: "failed", failures: 7, nextAttemptAt: null });
    expect(deliveries().map((d) => [d.attempt, d.status])).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => [n, 500]),
    );
    expect(endpoint()).toMatchObject({ enabled: false, disabledAt: now });
    expect(endpoint()?.disabledReason).toBe(
      "all 7 attempts of message msg_t failed; the last: the receiver answered 500",
    );
    // A disabled endpoint's other messages wait.
    await enqueue("msg_later");
    expect(await d.deliverDue()).toBe(0);
  });

  it("adds ±10 % jitter to each wait", () => {
    expect(retryDelay(1, { random: () => 0 })).toBe(4_500);
    expect(retryDelay(1, { random: () => 1 })).toBe(5_500);
    expect(retryDelay(6, { random: () => 0.5 })).toBe(36_000_000);
    expect(retryDelay(7)).toBeNull();
    expect(retryDelay(2, { random: () => 0.5, timeScale: 0.001 })).toBe(300);
  });

  it("disables the endpoint at once on 410 Gone", async () => {
    const receiver = scriptedFetch([() => new Response(null, { status: 410 })]);
    await enqueue();
    await deliverer(receiver.fetch).deliverDue();
    expect(outbox()[0]).toMatchObject({ state: "failed", nextAttemptAt: null });
    expect(endpoint()).toMatchObject({ enabled: false });
    expect(endpoint()?.disabledReason).toContain("410 Gone");
  });

  it("honours Retry-After (seconds or an HTTP date) when it asks for longer than the schedule", async () => {
    const receiver = scriptedFetch([
      () => new Response(null, { status: 503, headers: { "retry-after": "120" } }),
      () =>
        new Response(null, {
          status: 429,
          headers: { "retry-after": new Date(T0 + 120_000 + 3_600_000).toUTCString() },
        }),
      () => new Response(null, { status: 204 }),
    ]);
    const d = deliverer(receiver.fetch);
    await enqueue();
    await d.deliverDue();
    expect(outbox()[0]?.nextAttemptAt).toBe(T0 + 120_000);
    now = T0 + 120_000;
    await d.deliverDue();
    // The date is an hour on, longer than the 5 minutes the schedule would wait.
    expect(outbox()[0]?.nextAttemptAt).toBe(T0 + 120_000 + 3_600_000);
    now += 3_600_000;
    await d.deliverDue();
    expect(outbox()[0]).toMatchObject({ state: "delivered", attempts: 3 });
  });

  it("does not follow redirects and gives up on a receiver that does not answer in time", async () => {
    const receiver = scriptedFetch([
      () => new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } }),
      () => new Promise<Response>(() => {}),
    ]);
    const slow = async (input: string | URL | Request, init?: RequestInit) => {
      const answer = receiver.fetch(input, init);
      // Like fetch: the timeout signal aborts a request that hangs.
      return Promise.race([
        answer,
        new Promise<Response>((_, reject) =>
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
        ),
      ]);
    };
    const d = deliverer(slow as typeof fetch, { timeoutMs: 50 });
    await enqueue();
    await d.deliverDue();
    now = outbox()[0]?.nextAttemptAt ?? 0;
    await d.deliverDue();
    expect(deliveries().map((x) => [x.status, x.error])).toEqual([
      [302, "redirects are not followed (302 to http://169.254.169.254/)"],
      [null, "no answer within 50 ms"],
    ]);
    expect(outbox()[0]).toMatchObject({ state: "pending", failures: 2 });
  });

  it("checks the address again at delivery time (the name may resolve elsewhere now)", async () => {
    const receiver = scriptedFetch([() => new Response(null, { status: 200 })]);
    const policy = { allowPrivate: false, resolver: { resolve: async () => ["10.0.0.7"] } };
    await enqueue();
    await deliverer(receiver.fetch, { policy }).deliverDue();
    expect(receiver.calls).toHaveLength(0);
    expect(deliveries()[0]).toMatchObject({
      status: null,
      error: "refused: receiver.test resolves to 10.0.0.7, a private address",
    });
    expect(outbox()[0]).toMatchObject({ state: "pending", failures: 1 });
  });
});
