import { asc, eq, sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { literalLimit } from "../../db/database.ts";
import { readEvents, recordEvent } from "../../db/events.ts";
import { createExperiment } from "../../db/experiments.ts";
import { runEvents } from "../../db/schema.ts";
import { type OpenDatabase, openDatabase } from "../../db/sqlite.ts";
import { queuedRunRow } from "../../support/fixtures.ts";

let database: OpenDatabase;
beforeEach(async () => {
  database = openDatabase(":memory:");
  await createExperiment(database.db, {
    experiment: { id: "exp_1", name: "e", spec: {} as never, createdAt: 1 },
    runs: [queuedRunRow("run_a", 0)],
    stages: [],
  });
  for (let i = 0; i < 7; i++) {
    await recordEvent(
      database.db,
      { runId: "run_a", attempt: 1, replayKey: null, type: "log", payload: "{}", createdAt: 2 },
      [],
    );
  }
});
afterEach(() => database.close());

const eventsOfRun = (limit: number) =>
  database.db
    .select({ seq: runEvents.seq })
    .from(runEvents)
    .where(eq(runEvents.runId, sql.placeholder("runId")))
    .orderBy(asc(runEvents.seq))
    .limit(literalLimit(limit));

describe("literalLimit", () => {
  it("writes the LIMIT into the statement's text, not into its parameters", () => {
    const query = eventsOfRun(3).toSQL();
    expect(query.sql).toMatch(/ limit 3$/);
    expect(query.params).toHaveLength(1); // the run id's placeholder, and nothing for the limit
  });

  it("limits the rows call after call", () => {
    const prepared = eventsOfRun(3).prepare();
    for (let call = 0; call < 3; call++) {
      expect(prepared.all({ runId: "run_a" }).map((row) => row.seq)).toEqual([1, 2, 3]);
    }
    expect(eventsOfRun(0).prepare().all({ runId: "run_a" })).toEqual([]);
  });

  it("refuses what is not a whole number, so nothing but digits reaches the text", () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(() => literalLimit(bad)).toThrow(RangeError);
    }
  });

  it("keeps one read of the event log per page size", async () => {
    expect((await readEvents(database.db, "run_a", 0, 2)).map((event) => event.seq)).toEqual([1, 2]);
    expect((await readEvents(database.db, "run_a", 2, 4)).map((event) => event.seq)).toEqual([3, 4, 5, 6]);
    expect((await readEvents(database.db, "run_a", 6, 2)).map((event) => event.seq)).toEqual([7]);
  });
});
