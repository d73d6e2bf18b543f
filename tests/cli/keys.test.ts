import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { keyByHash } from "../../db/keys.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { hashKey } from "../../src/auth/keys.ts";
import { keysCommand } from "../../src/cli/keys.ts";

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** Runs `autoprog keys …` in process (spawning tsx per call is slow), capturing its output. */
async function keys(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  await keysCommand().parseAsync(args, { from: "user" });
  vi.restoreAllMocks();
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { stdout: out.join(""), stderr: err.join(""), code };
}

describe("autoprog keys", () => {
  it("creates, lists and revokes keys against a database file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-keys-"));
    const admin = await keys([
      "create",
      "--project",
      "ops",
      "--role",
      "admin",
      "--name",
      "root",
      "--data-dir",
      dir,
    ]);
    expect(admin.code).toBe(0);
    const adminKey = admin.stdout.trim();
    expect(adminKey).toMatch(/^ap_[A-Za-z0-9_-]{43}$/);
    const member = await keys(["create", "--project", "team-a", "--name", "ci", "--data-dir", dir]);
    const memberId = /created (key_\w+) \(member of team-a\)/.exec(member.stderr)?.[1] as string;
    expect(memberId).toBeDefined();

    const database = openDatabase(join(dir, "autoprog.sqlite"));
    expect(await keyByHash(database.db, await hashKey(adminKey))).toMatchObject({
      projectId: "ops",
      role: "admin",
    });
    database.close();

    const listed = await keys(["list", "--data-dir", dir]);
    const rows = listed.stdout
      .trim()
      .split("\n")
      .map((line) => line.split("\t"));
    expect(rows.map((r) => r.slice(1, 4))).toEqual([
      ["ops", "admin", "root"],
      ["team-a", "member", "ci"],
    ]);
    expect(listed.stdout).not.toContain(adminKey);
    expect(rows[1]?.[6]).toBe("-");

    expect(await keys(["revoke", memberId, "--data-dir", dir])).toMatchObject({
      code: 0,
      stdout: `revoked ${memberId}\n`,
    });
    const after = await keys(["list", "--project", "team-a", "--data-dir", dir]);
    expect(after.stdout.trim().split("\t")[6]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await keys(["revoke", "key_nope", "--data-dir", dir])).code).toBe(1);
    const adminId = rows[0]?.[0] as string;
    const last = await keys(["revoke", adminId, "--data-dir", dir]);
    expect(last).toMatchObject({ code: 1 });
    expect(last.stderr).toContain("last live admin key");
  });

  it("creates an operator key (home project default unless named); other roles need --project", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-keys-"));
    const operator = await keys(["create", "--role", "operator", "--name", "root", "--data-dir", dir]);
    expect(operator.code).toBe(0);
    expect(operator.stderr).toMatch(/created key_\w+ \(operator of default\)/);
    const database = openDatabase(join(dir, "autoprog.sqlite"));
    expect(await keyByHash(database.db, await hashKey(operator.stdout.trim()))).toMatchObject({
      projectId: "default",
      role: "operator",
    });
    database.close();
    const missing = await keys(["create", "--role", "admin", "--name", "x", "--data-dir", dir]);
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toContain("--project is required");
    const operatorId = /created (key_\w+)/.exec(operator.stderr)?.[1] as string;
    const last = await keys(["revoke", operatorId, "--data-dir", dir]);
    expect(last).toMatchObject({ code: 1 });
    expect(last.stderr).toContain("last live operator key");
  });
});
