import { describe, expect, it } from "vitest";
import { claimRun } from "../../db/queue.ts";
import { getRun } from "../../db/runs.ts";
import { reapExpiredLeases } from "../../src/dispatch/reaper.ts";
import { eventLog, LEASE_MS, setup } from "./harness.ts";

/** The sweep Cloudflare's cron runs, with no dispatcher: re-queue while attempts remain, then fail. */
describe("reapExpiredLeases", () => {
  it("re-queues an expired lease, leaves a live one, and fails a run out of attempts", async () => {
    const { db, sink } = await setup({ runs: 1, maxAttempts: 2 });
    const sweep = (now: number) => reapExpiredLeases(db, sink, { now, maxAttempts: 2, leaseMs: LEASE_MS });
    await claimRun(db, { owner: "lt_a", now: 0, leaseMs: LEASE_MS });
    expect(await sweep(LEASE_MS - 1)).toEqual({ requeued: [], ended: [] });
    expect((await sweep(LEASE_MS + 1)).requeued.map((r) => r.id)).toEqual(["run_0"]);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "queued", attempt: 1, leaseOwner: null });

    await claimRun(db, { owner: "lt_b", now: 10 * LEASE_MS, leaseMs: LEASE_MS });
    const { ended } = await sweep(12 * LEASE_MS);
    expect(ended.map((r) => r.id)).toEqual(["run_0"]);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "failed", attempt: 2 });
    const log = await eventLog(db, "run_0");
    expect(log.map((e) => [e.seq, e.type, e.payload.reason])).toEqual([[1, "run.failed", "error"]]);
  });
});
