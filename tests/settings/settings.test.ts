import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_RUN_CEILINGS } from "../../src/core/run-cost.ts";
import { DEFAULT_LEASE_MS } from "../../src/dispatch/queue.ts";
import { loadSettings } from "../../src/env.ts";
import { readWorkersSettings, SettingsError } from "../../src/settings/read.ts";
import { SETTINGS, type Setting } from "../../src/settings/table.ts";
import { renderSettingsDoc, SETTINGS_DOC_FILE } from "../../support/settings-doc.ts";

const ENTRIES: Setting[] = Object.values(SETTINGS);
const WRANGLER_TOML = fileURLToPath(new URL("../../wrangler.toml", import.meta.url));

/** The names wrangler.toml sets under `[vars]` (up to the next table). */
async function wranglerVars(): Promise<string[]> {
  const toml = await readFile(WRANGLER_TOML, "utf8");
  const section = toml.split(/^\[vars\]$/m)[1]?.split(/^\[/m)[0] ?? "";
  return [...section.matchAll(/^([A-Z_][A-Z0-9_]*)\s*=/gm)].map((m) => m[1] ?? "");
}

describe("the settings table", () => {
  it("the checked-in docs/configuration.md is current (run `npm run docs:settings` after changing the table)", async () => {
    expect(await readFile(SETTINGS_DOC_FILE, "utf8")).toBe(renderSettingsDoc());
  });

  it("gives every setting its own variable and binding name", () => {
    const envs = ENTRIES.map((e) => e.env);
    expect(new Set(envs).size).toBe(envs.length);
    expect(envs.every((name) => name.startsWith("AUTOPROG_"))).toBe(true);
    const bindings = ENTRIES.flatMap((e) => (e.workers ? [e.workers.binding] : []));
    expect(new Set(bindings).size).toBe(bindings.length);
  });

  it("wrangler.toml sets only vars the table knows", async () => {
    const known = ENTRIES.flatMap((e) => (e.workers?.kind === "var" ? [e.workers.binding] : []));
    for (const name of await wranglerVars()) expect(known).toContain(name);
  });

  it("Node reads the table's defaults in the service's units", () => {
    const settings = loadSettings({});
    expect(settings.leaseMs).toBe(DEFAULT_LEASE_MS);
    expect(settings.sseHeartbeatMs).toBe(15_000);
    expect(settings.idempotencyTtlMs).toBe(24 * 3_600_000);
    expect(settings.trustProxy).toBe(false);
    expect(settings.projectMaxRunning).toBeNull();
    expect(loadSettings({ AUTOPROG_LEASE_SECONDS: "7.5", AUTOPROG_TRUST_PROXY: "true" })).toMatchObject({
      leaseMs: 7500,
      trustProxy: true,
    });
  });

  it.each([
    ["AUTOPROG_LEASE_SECONDS", "0"],
    ["AUTOPROG_PORT", "65536"],
    ["AUTOPROG_DISPATCH", "sometimes"],
    ["AUTOPROG_TRUST_PROXY", "yes"],
    ["AUTOPROG_STREAM_TOKEN_SECRET", "short"],
  ])("Node refuses to start on %s=%s, naming the variable", (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError);
    expect(() => loadSettings({ [name]: value })).toThrow(new RegExp(`invalid settings: ${name}: `));
  });

  it("Workers reads its own defaults and names from the table", () => {
    expect(readWorkersSettings({})).toEqual({
      maxAttempts: 3,
      projectMaxRunning: undefined,
      leaseSeconds: DEFAULT_LEASE_MS / 1000,
      sseHeartbeatMs: 2000,
      idempotencyTtlHours: 24,
      maxRunGb: DEFAULT_RUN_CEILINGS.maxRunBytes / 1e9,
      maxRunPflops: DEFAULT_RUN_CEILINGS.maxRunFlops / 1e15,
    });
    expect(readWorkersSettings({ LEASE_SECONDS: "30", PROJECT_MAX_RUNNING: "2" })).toMatchObject({
      leaseSeconds: 30,
      projectMaxRunning: 2,
    });
  });

  it("Workers refuses a bad var by its binding name, with its own bounds", () => {
    expect(() => readWorkersSettings({ LEASE_SECONDS: "-1" })).toThrow(/invalid settings: LEASE_SECONDS: /);
    // Followers poll on Workers: a heartbeat Node accepts is too short there.
    expect(loadSettings({ AUTOPROG_SSE_HEARTBEAT_MS: "50" }).sseHeartbeatMs).toBe(50);
    expect(() => readWorkersSettings({ SSE_HEARTBEAT_MS: "50" })).toThrow(/SSE_HEARTBEAT_MS/);
  });
});
