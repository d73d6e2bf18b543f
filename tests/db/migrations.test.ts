import { readFile } from "node:fs/promises";
import { generateSQLiteDrizzleJson, generateSQLiteMigration } from "drizzle-kit/api";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { listKeys } from "../../db/keys.ts";
import * as schema from "../../db/schema.ts";
import { openDatabase } from "../../db/sqlite.ts";

/** drizzle-kit's own diff of db/schema.ts against the newest migration snapshot. */
describe("db/migrations", () => {
  it("cover db/schema.ts (run `npm run db:generate` after changing the schema)", async () => {
    const journal = JSON.parse(await readFile("db/migrations/meta/_journal.json", "utf8")) as {
      entries: { idx: number }[];
    };
    const last = journal.entries.at(-1)?.idx ?? 0;
    const snapshotFile = `db/migrations/meta/${String(last).padStart(4, "0")}_snapshot.json`;
    const previous = JSON.parse(await readFile(snapshotFile, "utf8"));
    const current = await generateSQLiteDrizzleJson(schema as Record<string, unknown>, previous.id);
    expect(await generateSQLiteMigration(previous, current)).toEqual([]);
  });
});

describe("0005_operator_keys", () => {
  const keyRow = (id: string, name: string, projectId: string, role: schema.KeyRole, createdAt: number) => ({
    id,
    projectId,
    role,
    name,
    hash: id,
    createdAt,
  });

  /** A database as it was before 0005 (every admin a superuser), with 0005's statement run on it. */
  async function upgraded(keys: ReturnType<typeof keyRow>[]) {
    const database = openDatabase(":memory:");
    const { db } = database;
    for (const id of ["default", "team-a"]) db.insert(schema.projects).values({ id, createdAt: 0 }).run();
    db.insert(schema.apiKeys).values(keys).run();
    db.run(sql.raw(await readFile("db/migrations/0005_operator_keys.sql", "utf8")));
    const roles = Object.fromEntries((await listKeys(db)).map((k) => [k.id, k.role]));
    database.close();
    return roles;
  }

  it("makes the first start's key an operator key, and no other", async () => {
    expect(
      await upgraded([
        keyRow("key_b", "bootstrap", "default", "admin", 1),
        keyRow("key_c", "bootstrap", "default", "admin", 2),
        keyRow("key_d", "ops", "team-a", "admin", 3),
      ]),
    ).toEqual({ key_b: "operator", key_c: "admin", key_d: "admin" });
  });

  it("leaves a database whose first key came from elsewhere (the CLI) as it is", async () => {
    expect(
      await upgraded([
        keyRow("key_a", "root", "team-a", "admin", 1),
        keyRow("key_b", "bootstrap", "default", "admin", 2),
      ]),
    ).toEqual({ key_a: "admin", key_b: "admin" });
  });
});

describe("0006_tags_notes_cancelled", () => {
  it("moves endpoints subscribed to run.canceled to run.cancelled, and leaves the others", async () => {
    const database = openDatabase(":memory:");
    const { db } = database;
    const endpoint = (id: string, events: string[]) => ({
      id,
      projectId: "default",
      url: "https://example.com/hook",
      events,
      secret: "whsec_x",
      createdAt: 0,
    });
    db.insert(schema.webhookEndpoints)
      .values([endpoint("whk_a", ["run.failed", "run.canceled"]), endpoint("whk_b", ["run.succeeded"])])
      .run();
    // The statement that renames: the migration's last (the columns before it are already there).
    const statements = (await readFile("db/migrations/0006_tags_notes_cancelled.sql", "utf8")).split(
      "--> statement-breakpoint",
    );
    db.run(sql.raw(statements.at(-1) ?? ""));
    const rows = db.select().from(schema.webhookEndpoints).all();
    database.close();
    expect(Object.fromEntries(rows.map((r) => [r.id, r.events]))).toEqual({
      whk_a: ["run.failed", "run.cancelled"],
      whk_b: ["run.succeeded"],
    });
  });
});
