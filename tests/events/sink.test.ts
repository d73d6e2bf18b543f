import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createExperiment } from "../../db/experiments.ts";
import { getRun } from "../../db/runs.ts";
import { type OpenDatabase, openDatabase } from "../../db/sqlite.ts";
import type { TrainingEvent } from "../../src/core/events.ts";
import { InMemoryEventHub } from "../../src/events/hub.ts";
import { StoredEventSink } from "../../src/events/sink.ts";
import { epochCompleted, queuedRunRow, runStarted } from "../../support/fixtures.ts";

let database: OpenDatabase;
let sink: StoredEventSink;
beforeEach(async () => {
  database = openDatabase(":memory:");
  await createExperiment(database.db, {
    experiment: { id: "exp_1", name: "e", spec: {} as never, createdAt: 1 },
    runs: [queuedRunRow("run_a", 0)],
    stages: [],
  });
  sink = new StoredEventSink(database.db, new InMemoryEventHub(), () => 5);
});
afterEach(() => database.close());

describe("the event sink", () => {
  it("refuses an event that does not match the contract, and stores nothing for it", async () => {
    const malformed = { ...epochCompleted(0), trainLoss: "low" } as unknown as TrainingEvent;
    await expect(sink.record("run_a", 1, malformed, "k")).rejects.toThrow(/trainLoss/);
    expect((await getRun(database.db, "run_a"))?.lastSeq).toBe(0);
  });

  it("refuses every later event of an attempt once one could not be stored", async () => {
    const unknown = { type: "epoch.skipped" } as unknown as TrainingEvent;
    const failed = sink.record("run_a", 1, unknown, null);
    const after = sink.record("run_a", 1, epochCompleted(0), null);
    await expect(failed).rejects.toThrow();
    await expect(after).rejects.toThrow();
    await expect(sink.record("run_a", 1, epochCompleted(1), null)).rejects.toThrow(/not stored/);
    expect((await getRun(database.db, "run_a"))?.lastSeq).toBe(0);
    // A new attempt starts afresh.
    expect(await sink.record("run_a", 2, runStarted(), null)).toBe(1);
  });
});
