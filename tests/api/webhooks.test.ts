import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { z } from "zod";
import * as schema from "../../db/schema.ts";
import { recordAttempt } from "../../db/webhooks.ts";
import type {
  DeliveryPageSchema,
  MessageQueuedSchema,
  WebhookPageSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
} from "../../routes/webhooks/schema.ts";
import { expectProblem, read, type TestApp, tableCounts, testApp } from "./helpers.ts";

type Webhook = z.infer<typeof WebhookSchema>;
type WithSecret = z.infer<typeof WebhookWithSecretSchema>;
type WebhookPage = z.infer<typeof WebhookPageSchema>;
type DeliveryPage = z.infer<typeof DeliveryPageSchema>;
type Queued = z.infer<typeof MessageQueuedSchema>;

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

const hook = { url: "https://hooks.example.com/autoprog", events: ["run.stage.grown", "run.succeeded"] };

describe("POST /v1/webhooks", () => {
  it("creates an endpoint of the request's project and shows its secret once", async () => {
    const response = await t.post("/v1/webhooks", { ...hook, description: "growth alerts" });
    expect(response.status).toBe(201);
    const body = await read<WithSecret>(response);
    expect(response.headers.get("location")).toBe(`/v1/webhooks/${body.id}`);
    expect(body).toMatchObject({
      url: hook.url,
      events: hook.events,
      description: "growth alerts",
      enabled: true,
      disabledReason: null,
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    expect(body.id).toMatch(/^whk_[0-9a-z]{26}$/);
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const row = await t.db.select().from(schema.webhookEndpoints).get();
    expect(row).toMatchObject({ projectId: "default", secret: body.secret });
    const again = await read<Webhook>(t.app.request(`/v1/webhooks/${body.id}`));
    expect(again).not.toHaveProperty("secret");
    const { secret: _secret, ...shown } = body;
    expect(again).toEqual(shown);
  });

  describe.each([
    {
      case: "no URL, an unknown event type and an unknown field",
      body: { events: ["run.exploded"], colour: "red" },
      paths: ["url", "events.0", "colour"],
    },
    { case: "an ftp URL", body: { ...hook, url: "ftp://hooks.example.com/" }, paths: ["url"] },
    { case: "no events", body: { ...hook, events: [] }, paths: ["events"] },
  ])("with $case", ({ body, paths }) => {
    it("answers 422 naming each field and writes nothing", async () => {
      const before = await tableCounts(t.db);
      const problem = await expectProblem(await t.post("/v1/webhooks", body), 422, "validation_failed");
      expect((problem.errors as { path: string }[]).map((e) => e.path).sort()).toEqual([...paths].sort());
      expect(await tableCounts(t.db)).toEqual(before);
    });
  });

  it("names the new type of a renamed one (run.canceled is run.cancelled since issue 26)", async () => {
    const problem = await expectProblem(
      await t.post("/v1/webhooks", { ...hook, events: ["run.failed", "run.canceled"] }),
      422,
      "validation_failed",
    );
    expect(problem.errors).toEqual([
      { location: "body", path: "events.1", message: "renamed run.cancelled" },
    ]);
    const created = await t.post("/v1/webhooks", { ...hook, events: ["run.cancelled"] });
    expect(created.status).toBe(201);
  });

  it.each([
    ["http://127.0.0.1:9000/hook", "127.0.0.1, a loopback address"],
    ["http://[::ffff:10.0.0.1]/hook", "::ffff:a00:1, a private address"],
    ["http://169.254.169.254/latest", "169.254.169.254, a metadata address"],
    ["https://internal.example.com/hook", "internal.example.com resolves to fe80::1, a linkLocal address"],
  ])("refuses %s (unless private targets are allowed) with a 422 naming url", async (url, reason) => {
    t.close();
    t = testApp({
      allowPrivateWebhooks: false,
      resolver: { resolve: async () => ["fe80::1"] },
    });
    const problem = await expectProblem(
      await t.post("/v1/webhooks", { ...hook, url }),
      422,
      "validation_failed",
    );
    expect(problem.errors).toEqual([
      { location: "body", path: "url", message: expect.stringContaining(reason) },
    ]);
    expect((await tableCounts(t.db)).webhookEndpoints).toBe(0);
  });
});

describe("the other webhook routes", () => {
  async function create(overrides: Record<string, unknown> = {}) {
    return read<WithSecret>(t.post("/v1/webhooks", { ...hook, ...overrides }));
  }

  it("lists the project's endpoints newest first, a page at a time", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await create({ description: `n${i}` })).id);
      t.advance(1);
    }
    const first = await read<WebhookPage>(t.app.request("/v1/webhooks?limit=2"));
    expect(first.items.map((w) => w.id)).toEqual([ids[2], ids[1]]);
    expect(first.items[0]).not.toHaveProperty("secret");
    const second = await read<WebhookPage>(t.app.request(`/v1/webhooks?limit=2&cursor=${first.nextCursor}`));
    expect(second).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
  });

  it("treats another project's endpoint as unknown (404) on every route", async () => {
    await t.db.insert(schema.webhookEndpoints).values({
      id: "whk_theirs",
      projectId: "someone-else",
      url: "https://x.example.com",
      events: ["run.succeeded"],
      secret: "whsec_c2VjcmV0",
      createdAt: 1,
    });
    expect((await read<WebhookPage>(t.app.request("/v1/webhooks"))).items).toEqual([]);
    for (const [method, path] of [
      ["GET", "/v1/webhooks/whk_theirs"],
      ["DELETE", "/v1/webhooks/whk_theirs"],
      ["POST", "/v1/webhooks/whk_theirs/rotate-secret"],
      ["POST", "/v1/webhooks/whk_theirs/test"],
      ["GET", "/v1/webhooks/whk_theirs/deliveries"],
    ] as const) {
      const problem = await expectProblem(await t.app.request(path, { method }), 404, "not_found");
      expect(problem.detail).toBe("no webhook whk_theirs");
    }
    expect(await t.db.select().from(schema.webhookEndpoints).all()).toHaveLength(1);
  });

  it("rotates the secret: a new one is shown once and the old one signs beside it for a day", async () => {
    const created = await create();
    const rotated = await read<WithSecret>(
      t.app.request(`/v1/webhooks/${created.id}/rotate-secret`, { method: "POST" }),
    );
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.id).toBe(created.id);
    const row = await t.db.select().from(schema.webhookEndpoints).get();
    expect(row).toMatchObject({
      secret: rotated.secret,
      previousSecret: created.secret,
      previousSecretExpiresAt: Date.parse("2026-01-02T00:00:00Z"),
    });
  });

  it("queues a webhook.test message due now, wakes the deliverer, and redelivers a delivery with the same id", async () => {
    const created = await create();
    const response = await t.app.request(`/v1/webhooks/${created.id}/test`, { method: "POST" });
    expect(response.status).toBe(202);
    const queued = await read<Queued>(response);
    expect(queued).toMatchObject({ webhookId: created.id, type: "webhook.test" });
    expect(t.woken.count).toBe(1);
    const [row] = await t.db.select().from(schema.webhookOutbox).all();
    expect(row).toMatchObject({
      messageId: queued.messageId,
      state: "pending",
      nextAttemptAt: Date.parse("2026-01-01"),
    });
    expect(JSON.parse(row?.body ?? "")).toEqual({
      type: "webhook.test",
      timestamp: "2026-01-01T00:00:00.000Z",
      data: { webhookId: created.id, message: "a test message from autoprog" },
    });
    if (!row) return;

    // Two attempts as the deliverer would record them: the first failed, the second delivered.
    const now = Date.parse("2026-01-01");
    await recordAttempt(t.db, {
      id: "dlv_0000000001aaaaaaaaaaaaaaaa",
      row: { ...row, attempts: 1 },
      status: 500,
      durationMs: 12,
      error: "the receiver answered 500",
      now,
      next: { state: "pending", at: now + 5_000 },
    });
    await recordAttempt(t.db, {
      id: "dlv_0000000002aaaaaaaaaaaaaaaa",
      row: { ...row, attempts: 2, failures: 1 },
      status: 204,
      durationMs: 7,
      error: null,
      now: now + 5_000,
      next: { state: "delivered" },
    });
    const first = await read<DeliveryPage>(t.app.request(`/v1/webhooks/${created.id}/deliveries?limit=1`));
    expect(first.items).toEqual([
      {
        id: "dlv_0000000002aaaaaaaaaaaaaaaa",
        webhookId: created.id,
        messageId: queued.messageId,
        type: "webhook.test",
        attempt: 2,
        status: 204,
        durationMs: 7,
        error: null,
        createdAt: "2026-01-01T00:00:05.000Z",
      },
    ]);
    const second = await read<DeliveryPage>(
      t.app.request(`/v1/webhooks/${created.id}/deliveries?limit=1&cursor=${first.nextCursor}`),
    );
    expect(second.items.map((d) => [d.attempt, d.status, d.error])).toEqual([
      [1, 500, "the receiver answered 500"],
    ]);
    expect(second.nextCursor).toBeNull();

    const again = await t.app.request("/v1/webhook-deliveries/dlv_0000000002aaaaaaaaaaaaaaaa/redeliver", {
      method: "POST",
    });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({
      messageId: queued.messageId,
      webhookId: created.id,
      type: "webhook.test",
    });
    expect(t.woken.count).toBe(2);
    expect(await t.db.select().from(schema.webhookOutbox).get()).toMatchObject({
      state: "pending",
      failures: 0,
      nextAttemptAt: now,
    });
    await expectProblem(
      await t.app.request("/v1/webhook-deliveries/dlv_missing/redeliver", { method: "POST" }),
      404,
      "not_found",
    );

    // A disabled endpoint says why and takes no test or redelivery until it is replaced.
    await t.db
      .update(schema.webhookEndpoints)
      .set({ enabled: false, disabledReason: "the receiver answered 410 Gone", disabledAt: now })
      .where(eq(schema.webhookEndpoints.id, created.id));
    expect(await read<Webhook>(t.app.request(`/v1/webhooks/${created.id}`))).toMatchObject({
      enabled: false,
      disabledReason: "the receiver answered 410 Gone",
      disabledAt: "2026-01-01T00:00:00.000Z",
    });
    const refused = await expectProblem(
      await t.app.request("/v1/webhook-deliveries/dlv_0000000002aaaaaaaaaaaaaaaa/redeliver", {
        method: "POST",
      }),
      409,
      "webhook_disabled",
    );
    expect(refused.detail).toBe("the receiver answered 410 Gone");
    await expectProblem(
      await t.app.request(`/v1/webhooks/${created.id}/test`, { method: "POST" }),
      409,
      "webhook_disabled",
    );
  });

  it("deletes an endpoint with its outbox and delivery log", async () => {
    const created = await create();
    await t.app.request(`/v1/webhooks/${created.id}/test`, { method: "POST" });
    const response = await t.app.request(`/v1/webhooks/${created.id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    const counts = await tableCounts(t.db);
    expect([counts.webhookEndpoints, counts.webhookOutbox, counts.webhookDeliveries]).toEqual([0, 0, 0]);
    await expectProblem(
      await t.app.request(`/v1/webhooks/${created.id}`, { method: "DELETE" }),
      404,
      "not_found",
    );
  });
});
