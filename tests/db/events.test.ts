import { asc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type OpenDatabase, openDatabase } from "../../db/client.ts";
import { recordEvent } from "../../db/events.ts";
import { createExperiment } from "../../db/experiments.ts";
import { claimKey, getKey } from "../../db/idempotency.ts";
import { claimNextRun, getRun, requestCancel, requeueRun } from "../../db/runs.ts";
import { runEvents } from "../../db/schema.ts";
import { queuedRunRow } from "../api/fixtures.ts";

let database: OpenDatabase;
beforeEach(async () => {
  database = openDatabase(":memory:");
  const run = queuedRunRow;
  await createExperiment(database.db, {
    experiment: { id: "exp_1", name: "e", spec: {} as never, createdAt: 1 },
    runs: [run("run_a", 0), run("run_b", 1)],
    stages: [],
  });
});
afterEach(() => database.close());

const event = (runId: string, replayKey: string | null, type = "epoch.completed") => ({
  runId,
  attempt: 1,
  replayKey,
  type,
  payload: JSON.stringify({ type }),
  createdAt: 2,
});

describe("the run_events log", () => {
  it("numbers each run's events 1, 2, 3, … on its own", async () => {
    const seqs = [];
    for (let i = 0; i < 5; i++)
      seqs.push(await recordEvent(database.db, event(i % 2 ? "run_b" : "run_a", null), []));
    expect(seqs).toEqual([1, 1, 2, 2, 3]);
    expect((await getRun(database.db, "run_a"))?.lastSeq).toBe(3);
  });

  it("ignores an event whose replay key is stored, without using a seq", async () => {
    expect(await recordEvent(database.db, event("run_a", "epoch.completed@0#0"), [])).toBe(1);
    expect(await recordEvent(database.db, event("run_a", "epoch.completed@0#0"), [])).toBeNull();
    expect(await recordEvent(database.db, event("run_a", "epoch.completed@1#0"), [])).toBe(2);
    expect(await recordEvent(database.db, event("run_b", "epoch.completed@0#0"), [])).toBe(1);
    const rows = await database.db
      .select({ seq: runEvents.seq })
      .from(runEvents)
      .where(eq(runEvents.runId, "run_a"))
      .orderBy(asc(runEvents.seq));
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
  });

  it("writes an event and its derived rows all or nothing", async () => {
    const failing = database.db
      .insert(runEvents)
      .values({ ...event("run_zzz", null), seq: 1 })
      .returning();
    await expect(recordEvent(database.db, event("run_a", null), [failing])).rejects.toThrow(/FOREIGN KEY/);
    expect((await getRun(database.db, "run_a"))?.lastSeq).toBe(0);
  });
});

describe("run state changes are conditional updates", () => {
  it("claims queued runs oldest first, once each, counting attempts", async () => {
    const first = await claimNextRun(database.db, 5);
    const second = await claimNextRun(database.db, 5);
    expect([first?.id, first?.state, first?.attempt, first?.startedAt]).toEqual(["run_a", "running", 1, 5]);
    expect(second?.id).toBe("run_b");
    expect(await claimNextRun(database.db, 5)).toBeUndefined();
  });

  it("skips a queued run flagged for cancellation", async () => {
    await requestCancel(database.db, "run_a", 3);
    expect((await claimNextRun(database.db, 5))?.id).toBe("run_b");
  });

  it("re-queues only a running run, refunding the attempt on request", async () => {
    expect(await requeueRun(database.db, "run_a", { now: 4, refundAttempt: true })).toBe(false);
    await claimNextRun(database.db, 5);
    expect(await requeueRun(database.db, "run_a", { now: 6, refundAttempt: true })).toBe(true);
    expect(await getRun(database.db, "run_a")).toMatchObject({ state: "queued", attempt: 0 });
  });
});

describe("idempotency keys", () => {
  it("are claimed once, and again only after they expire", async () => {
    const claim = (now: number) =>
      claimKey(database.db, { key: "k", fingerprint: `f${now}`, now, ttlMs: 10 });
    expect(await claim(0)).toBe(true);
    expect(await claim(5)).toBe(false);
    expect((await getKey(database.db, "k"))?.fingerprint).toBe("f0");
    expect(await claim(11)).toBe(true);
    expect((await getKey(database.db, "k"))?.fingerprint).toBe("f11");
  });
});
