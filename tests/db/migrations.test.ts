import { readFile } from "node:fs/promises";
import { generateSQLiteDrizzleJson, generateSQLiteMigration } from "drizzle-kit/api";
import { describe, expect, it } from "vitest";
import * as schema from "../../db/schema.ts";

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
