import { createHash } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listKeys } from "../../db/keys.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { loadSettings, SettingsError } from "../../src/env.ts";
import { bootstrapKeyFile } from "../../src/node.ts";

afterEach(() => vi.restoreAllMocks());

async function firstStart(env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "autoprog-bootstrap-"));
  const settings = loadSettings({ AUTOPROG_DATA_DIR: dataDir, ...env });
  const database = openDatabase(settings.databaseFile);
  const printed: string[] = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    printed.push(String(chunk));
    return true;
  });
  const file = await bootstrapKeyFile(database.db, settings);
  return { dataDir, settings, database, file, printed: printed.join("") };
}

describe("the first start", () => {
  it("creates an operator key homed in project default, prints it once and writes <data dir>/admin-key (0600)", async () => {
    const { dataDir, settings, database, file, printed } = await firstStart();
    expect(file).toBe(join(dataDir, "admin-key"));
    const key = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
    expect(key).toMatch(/^ap_[A-Za-z0-9_-]{43}$/);
    expect((await stat(join(dataDir, "admin-key"))).mode & 0o777).toBe(0o600);
    expect(printed).toContain(key);
    const keys = await listKeys(database.db);
    expect(keys).toMatchObject([{ projectId: "default", role: "operator", revokedAt: null }]);
    // Stored as its SHA-256 only.
    expect(keys[0]?.hash).toBe(createHash("sha256").update(key).digest("hex"));
    // A second start finds a key and creates none.
    expect(await bootstrapKeyFile(database.db, settings)).toBeNull();
    expect(await listKeys(database.db)).toHaveLength(1);
    database.close();
  });

  it("uses AUTOPROG_BOOTSTRAP_KEY as that key", async () => {
    const given = `ap_${"x".repeat(40)}`;
    const { dataDir, database } = await firstStart({ AUTOPROG_BOOTSTRAP_KEY: given });
    expect((await readFile(join(dataDir, "admin-key"), "utf8")).trim()).toBe(given);
    expect((await listKeys(database.db))[0]?.hash).toBe(createHash("sha256").update(given).digest("hex"));
    database.close();
  });

  it.each(["secret", "ap_short", `xx_${"x".repeat(40)}`, `ap_${"x".repeat(39)}!`])(
    "refuses AUTOPROG_BOOTSTRAP_KEY=%s",
    (value) => {
      expect(() => loadSettings({ AUTOPROG_BOOTSTRAP_KEY: value })).toThrow(SettingsError);
    },
  );
});
