import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { batch } from "../../db/database.ts";
import { getKey } from "../../db/idempotency.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { type IdempotencyEnv, idempotency } from "../../routes/common/idempotency.ts";
import type { Services } from "../../src/services.ts";

const databases: { close(): void }[] = [];
afterEach(() => {
  for (const d of databases.splice(0)) d.close();
});

/** A one-route app whose handler counts its runs and stores its answer with the key. */
function tenantApp() {
  const database = openDatabase(":memory:");
  databases.push(database);
  // The middleware reads only these three services.
  const services = { db: database.db, clock: () => 1_000, idempotencyTtlMs: 60_000 } as Services;
  let handled = 0;
  const app = new Hono<IdempotencyEnv>();
  app.use(async (c, next) => {
    c.set("services", services);
    await next();
  });
  app.use(idempotency({ scope: (c) => c.req.header("x-tenant") ?? "" }));
  app.post("/things", async (c) => {
    handled += 1;
    const body = { n: handled };
    const key = c.var.idempotency;
    if (key) await batch(database.db, [key.complete(database.db, { status: 201, body, location: null })]);
    return c.json(body, 201);
  });
  const post = (tenant: string) =>
    app.request("/things", {
      method: "POST",
      headers: { "idempotency-key": "k-1", "x-tenant": tenant },
      body: "{}",
    });
  return { app, post, db: database.db, handled: () => handled };
}

describe("the Idempotency-Key middleware", () => {
  it("scopes keys, so two tenants may use the same key", async () => {
    const t = tenantApp();
    expect(await (await t.post("acme")).json()).toEqual({ n: 1 });
    expect(await (await t.post("globex")).json()).toEqual({ n: 2 });
    const replay = await t.post("acme");
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual({ n: 1 });
    expect(t.handled()).toBe(2);
    expect((await getKey(t.db, "acme:k-1"))?.state).toBe("completed");
  });
});
