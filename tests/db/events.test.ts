import { asc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordEvent } from "../../db/events.ts";
import { createExperiment } from "../../db/experiments.ts";
import { claimKey, getKey } from "../../db/idempotency.ts";
import { claimRun, extendLease, releaseRun, requeueExpired } from "../../db/queue.ts";
import { getRun, requestCancel } from "../../db/runs.ts";
import { runEvents } from "../../db/schema.ts";
import { type OpenDatabase, openDatabase } from "../../db/sqlite.ts";
import { queuedRunRow } from "../../support/fixtures.ts";

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

const claim = (now: number, owner = "a") => claimRun(database.db, { owner, now, leaseMs: 10 });

describe("run state changes are conditional updates", () => {
  it("claims queued runs oldest first, once each, counting attempts and leasing them", async () => {
    const first = await claim(5);
    const second = await claim(5, "b");
    expect(first).toMatchObject({ id: "run_a", state: "running", attempt: 1, startedAt: 5 });
    expect(first).toMatchObject({ leaseOwner: "a", leaseExpiresAt: 15 });
    expect(second).toMatchObject({ id: "run_b", leaseOwner: "b" });
    expect(await claim(5)).toBeUndefined();
  });

  it("skips a queued run flagged for cancellation", async () => {
    await requestCancel(database.db, "run_a", 3);
    expect((await claim(5))?.id).toBe("run_b");
  });

  it("re-queues only a running run its owner holds, refunding the attempt on request", async () => {
    const release = (owner: string, now: number) =>
      releaseRun(database.db, { runId: "run_a", owner, now, refundAttempt: true });
    expect(await release("a", 4)).toBe(false);
    await claim(5);
    expect(await release("b", 6)).toBe(false);
    expect(await release("a", 6)).toBe(true);
    expect(await getRun(database.db, "run_a")).toMatchObject({
      state: "queued",
      attempt: 0,
      leaseOwner: null,
    });
  });

  it("extends a lease only for its owner, and re-queues a run once its lease expired", async () => {
    await claim(0);
    const extend = (owner: string, now: number) =>
      extendLease(database.db, { runId: "run_a", owner, now, leaseMs: 10 });
    expect(await extend("b", 5)).toEqual({
      held: false,
      cancelRequested: false,
      pauseRequested: false,
      attempt: 0,
    });
    expect(await extend("a", 5)).toEqual({
      held: true,
      cancelRequested: false,
      pauseRequested: false,
      attempt: 1,
    });
    // Expires at 15: nothing to sweep at 15, re-queued at 16.
    expect((await requeueExpired(database.db, { now: 15, maxAttempts: 3 })).requeued).toEqual([]);
    const swept = await requeueExpired(database.db, { now: 16, maxAttempts: 3 });
    expect(swept.requeued.map((r) => r.id)).toEqual(["run_a"]);
    expect(await extend("a", 17)).toEqual({
      held: false,
      cancelRequested: false,
      pauseRequested: false,
      attempt: 0,
    });
    expect(await getRun(database.db, "run_a")).toMatchObject({ state: "queued", attempt: 1 });
  });

  it("hands an expired run that is out of attempts to the caller to end", async () => {
    await claim(0);
    const swept = await requeueExpired(database.db, { now: 100, maxAttempts: 1 });
    expect(swept.requeued).toEqual([]);
    expect(swept.toEnd.map((r) => r.id)).toEqual(["run_a"]);
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
