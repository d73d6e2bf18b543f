import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readEvents } from "../../db/events.ts";
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
    runs: [queuedRunRow("run_a", 0), queuedRunRow("run_b", 1)],
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

  it("stores the events handed in together in one transaction, each run's gap-free and in order", async () => {
    const transactions = vi.spyOn(database.db, "transaction");
    const published: string[] = [];
    sink.hub.subscribe("run_a", (e) => published.push(`a${e.seq}`));
    sink.hub.subscribe("run_b", (e) => published.push(`b${e.seq}`));
    const handed = ["run_a", "run_b"].flatMap((runId) => [
      sink.record(runId, 1, runStarted(), "start"),
      ...Array.from({ length: 30 }, (_, epoch) =>
        sink.record(runId, 1, epochCompleted(epoch), `epoch-${epoch}`),
      ),
    ]);
    // The same replay key again in the same batch: stored once.
    const replay = sink.record("run_a", 1, epochCompleted(3), "epoch-3");
    const seqs = await Promise.all(handed);
    expect(await replay).toBeNull();
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(seqs).toEqual([
      ...Array.from({ length: 31 }, (_, i) => i + 1),
      ...Array.from({ length: 31 }, (_, i) => i + 1),
    ]);
    for (const runId of ["run_a", "run_b"]) {
      expect((await readEvents(database.db, runId, 0, 100)).map((e) => e.seq)).toEqual(
        Array.from({ length: 31 }, (_, i) => i + 1),
      );
      const run = await getRun(database.db, runId);
      expect(run?.lastSeq).toBe(31);
      expect(run?.epochsCompleted).toBe(30);
    }
    expect(published.filter((p) => p.startsWith("a"))).toEqual(
      Array.from({ length: 31 }, (_, i) => `a${i + 1}`),
    );
    // Replayed later on its own: still nothing new.
    expect(await sink.record("run_b", 1, epochCompleted(0), "epoch-0")).toBeNull();
  });

  it("rolls back only the event that fails in the database, and refuses the rest of its attempt, not other runs'", async () => {
    const lost = sink.record("run_missing", 1, runStarted(), null);
    const afterLost = sink.record("run_missing", 1, epochCompleted(0), null);
    const other = sink.record("run_a", 1, runStarted(), null);
    await expect(lost).rejects.toThrow(/FOREIGN KEY/);
    await expect(afterLost).rejects.toThrow(/not stored/);
    expect(await other).toBe(1);
    expect(await sink.record("run_a", 1, epochCompleted(0), null)).toBe(2);
    expect((await readEvents(database.db, "run_missing", 0, 10)).length).toBe(0);
  });
});
