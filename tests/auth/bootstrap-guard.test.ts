import { afterEach, describe, expect, it } from "vitest";
import { listKeys } from "../../db/keys.ts";
import * as schema from "../../db/schema.ts";
import { bootstrapFromSetting } from "../../src/auth/bootstrap-guard.ts";
import { ADMIN_KEY, testApp } from "../api/helpers.ts";

/** The first admin key from a setting (Workers' AUTOPROG_BOOTSTRAP_KEY secret), in-process. */
const SECRET = `ap_${"from-the-secret-".padEnd(43, "s")}`;
let close: (() => void) | undefined;
afterEach(() => close?.());

function appWithSetting(setting: { key: string | undefined }, options: { emptyKeys: boolean }) {
  const t = testApp({
    app: { beforeAuth: bootstrapFromSetting(() => ({ name: "AUTOPROG_BOOTSTRAP_KEY", key: setting.key })) },
  });
  close = t.close;
  if (options.emptyKeys) t.db.delete(schema.apiKeys).run();
  const get = (key: string) =>
    t.raw.request("/v1/experiments", { headers: { authorization: `Bearer ${key}` } });
  return { ...t, get };
}

describe("the bootstrap guard", () => {
  it.each([
    ["not set", undefined, "set the AUTOPROG_BOOTSTRAP_KEY secret"],
    ["not a key", "secret", "AUTOPROG_BOOTSTRAP_KEY is not a key"],
  ])("answers 503 not_bootstrapped while no key exists and the setting is %s", async (_, key, detail) => {
    const t = appWithSetting({ key }, { emptyKeys: true });
    const response = await t.get(SECRET);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      code: "not_bootstrapped",
      status: 503,
      detail: expect.stringContaining(detail),
      instance: "/v1/experiments",
    });
    expect(await listKeys(t.db)).toEqual([]);
    // Public routes stay up.
    expect((await t.raw.request("/healthz")).status).toBe(200);
  });

  it("creates the operator key (home project default) from the setting, once, and then lets it in", async () => {
    const setting: { key: string | undefined } = { key: undefined };
    const t = appWithSetting(setting, { emptyKeys: true });
    expect((await t.get(SECRET)).status).toBe(503);
    setting.key = SECRET;
    expect((await t.get(SECRET)).status).toBe(200);
    expect(await listKeys(t.db)).toMatchObject([
      { projectId: "default", role: "operator", name: "bootstrap" },
    ]);
    expect((await t.get(SECRET)).status).toBe(200);
    expect(await listKeys(t.db)).toHaveLength(1);
  });

  it("ignores the setting once a key exists", async () => {
    const t = appWithSetting({ key: SECRET }, { emptyKeys: false });
    expect((await t.get(SECRET)).status).toBe(401);
    expect((await t.get(ADMIN_KEY)).status).toBe(200);
    expect((await listKeys(t.db)).map((k) => k.name)).not.toContain("bootstrap");
  });
});
