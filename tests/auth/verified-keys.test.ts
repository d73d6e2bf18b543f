import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as schema from "../../db/schema.ts";
import { InMemoryVerifiedKeys } from "../../src/auth/verified-keys.ts";
import { ADMIN_KEY, type TestApp, testApp } from "../api/helpers.ts";

const principal = { keyId: "key_1", projectId: "default", role: "member" as const };

describe("the verified-key cache", () => {
  it("remembers a key for its time only, and forgets it at once when told", () => {
    const keys = new InMemoryVerifiedKeys(1_000);
    keys.remember("h1", principal, 0);
    expect(keys.byKeyHash("h1", 999)).toEqual(principal);
    expect(keys.byKeyId("key_1", 999)).toEqual(principal);
    expect(keys.byKeyHash("h1", 1_000)).toBeUndefined();
    expect(keys.size).toBe(0);
    keys.remember("h1", principal, 2_000);
    keys.forget("key_1");
    expect(keys.byKeyHash("h1", 2_001)).toBeUndefined();
    expect(keys.byKeyId("key_1", 2_001)).toBeUndefined();
  });

  it("remembers nothing with a time of 0, and stays bounded", () => {
    const off = new InMemoryVerifiedKeys(0);
    off.remember("h1", principal, 0);
    expect(off.byKeyHash("h1", 0)).toBeUndefined();
    const small = new InMemoryVerifiedKeys(1_000, 3);
    for (let i = 0; i < 10; i++) small.remember(`h${i}`, { ...principal, keyId: `key_${i}` }, 0);
    expect(small.size).toBeLessThanOrEqual(3);
    expect(small.byKeyHash("h9", 1)?.keyId).toBe("key_9");
  });
});

describe("authentication with the cache", () => {
  let t: TestApp;
  afterEach(() => {
    vi.restoreAllMocks();
    t.close();
  });

  it("hashes the key once per request and reads its row once per cache period", async () => {
    t = testApp({ auth: { keyCacheSeconds: 10 } });
    const digest = vi.spyOn(crypto.subtle, "digest");
    expect((await t.app.request("/v1/experiments")).status).toBe(200);
    expect(digest).toHaveBeenCalledTimes(1);
    // Revoked behind this process's back (another server on the same database): still accepted
    // from memory until the cache time has passed, then refused.
    t.db.update(schema.apiKeys).set({ revokedAt: 1 }).where(eq(schema.apiKeys.id, "key_member")).run();
    t.advance(9_000);
    expect((await t.app.request("/v1/experiments")).status).toBe(200);
    expect(digest).toHaveBeenCalledTimes(2);
    t.advance(1_000);
    expect((await t.app.request("/v1/experiments")).status).toBe(401);
  });

  it("refuses a key revoked through this server at once", async () => {
    t = testApp({ auth: { keyCacheSeconds: 60 } });
    const member = await t.keyFor("default", "member");
    expect((await t.app.request("/v1/experiments", { headers: member.headers })).status).toBe(200);
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const revoked = await t.app.request(`/v1/keys/${member.id}`, { method: "DELETE", headers: admin });
    expect(revoked.status).toBe(204);
    expect((await t.app.request("/v1/experiments", { headers: member.headers })).status).toBe(401);
  });

  it("reads the key on every request with a cache time of 0", async () => {
    t = testApp({ auth: { keyCacheSeconds: 0 } });
    expect((await t.app.request("/v1/experiments")).status).toBe(200);
    t.db.update(schema.apiKeys).set({ revokedAt: 1 }).where(eq(schema.apiKeys.id, "key_member")).run();
    expect((await t.app.request("/v1/experiments")).status).toBe(401);
  });
});
