import { readFile } from "node:fs/promises";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { derivedStatements } from "../../db/derived.ts";
import { recordEvent } from "../../db/events.ts";
import { metricKeysOfRun, metricsOfRun } from "../../db/runs.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { epochCompleted, tinySpec } from "../../support/fixtures.ts";
import { read, testApp } from "../api/helpers.ts";

/** One metric row per epoch (0009_metric_points): the values read back, a replay, the migration. */
describe("metric points", () => {
  it("stores an epoch's values in one row and reads them back per key, exactly", async () => {
    const t = testApp();
    const { runs } = await read<{ runs: { id: string }[] }>(t.post("/v1/experiments", tinySpec()));
    const runId = runs[0]?.id as string;
    for (let epoch = 0; epoch < 3; epoch++) {
      const event = epochCompleted(epoch);
      await recordEvent(
        t.db,
        { runId, attempt: 1, replayKey: `e${epoch}`, type: event.type, payload: "{}", createdAt: 0 },
        derivedStatements(t.db, runId, event, 0),
      );
    }
    const loss = await metricsOfRun(t.db, runId, { key: "train.loss", limit: 10 });
    expect(loss.map((m) => [m.step, m.epoch, m.value])).toEqual(
      [0, 1, 2].map((epoch) => {
        const e = epochCompleted(epoch);
        return [e.step, e.epoch, e.trainLoss];
      }),
    );
    const keys = await metricKeysOfRun(t.db, runId);
    expect(keys.map((k) => k.key)).toEqual([...keys.map((k) => k.key)].sort());
    expect(keys.every((k) => k.count === 3)).toBe(true);
    const all = await metricsOfRun(t.db, runId, { limit: 1000 });
    expect(all).toHaveLength(3 * keys.length);
    // Keyset paging: after (train.loss, step of epoch 0) comes epoch 1's train.loss.
    const first = loss[0] as { key: string; step: number };
    const after = await metricsOfRun(t.db, runId, { after: first, limit: 1 });
    expect(after[0]).toMatchObject({ key: "train.loss", step: loss[1]?.step });
  });

  it("keeps a stored step's values when the step is sent again, adding only new keys", async () => {
    const t = testApp();
    const { runs } = await read<{ runs: { id: string }[] }>(t.post("/v1/experiments", tinySpec()));
    const runId = runs[0]?.id as string;
    const event = epochCompleted(0);
    const write = (e: typeof event) =>
      recordEvent(
        t.db,
        { runId, attempt: 1, replayKey: "e0", type: e.type, payload: "{}", createdAt: 0 },
        derivedStatements(t.db, runId, e, 0),
      );
    await write(event);
    await write({
      ...event,
      trainLoss: 99,
      evaluation: { online: 0.5, best: 0.5, bestSource: "online", ema: { fresh: 0.7 } },
    });
    const byKey = Object.fromEntries(
      (await metricsOfRun(t.db, runId, { limit: 100 })).map((m) => [m.key, m.value]),
    );
    expect(byKey["train.loss"]).toBe(event.trainLoss);
    expect(byKey["test.top1"]).toBe(event.evaluation?.online);
    expect(byKey["test.ema.fresh"]).toBe(0.7);
  });

  it("0009 moves one row per value into one row per step", async () => {
    const database = openDatabase(":memory:");
    const { db } = database;
    // The table as 0000 made it, with two steps' values, then 0009's statements.
    // Run "r" is not in runs: the move is what is tested, not the foreign key.
    db.run(sql`PRAGMA foreign_keys = OFF`);
    db.run(
      sql.raw(`CREATE TABLE metrics (run_id text NOT NULL, key text NOT NULL, step integer NOT NULL,
      epoch integer, value real NOT NULL, PRIMARY KEY(run_id, key, step))`),
    );
    db.run(
      sql.raw(`INSERT INTO metrics VALUES ('r', 'lr', 10, 0, 0.1), ('r', 'train.loss', 10, 0, ${1 / 3}),
        ('r', 'lr', 20, 1, 0.05)`),
    );
    db.run(sql.raw("DROP TABLE metric_points"));
    for (const statement of (await readFile("db/migrations/0009_metric_points.sql", "utf8")).split(
      "--> statement-breakpoint",
    ))
      db.run(sql.raw(statement));
    const rows = db.all<{ run_id: string; step: number; epoch: number; metric_values: string }>(
      sql`SELECT * FROM metric_points ORDER BY step`,
    );
    expect(rows.map((r) => [r.run_id, r.step, r.epoch, JSON.parse(r.metric_values)])).toEqual([
      ["r", 10, 0, { lr: 0.1, "train.loss": 1 / 3 }],
      ["r", 20, 1, { lr: 0.05 }],
    ]);
    database.close();
  });
});
