import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getRun, requestCancel } from "../../db/runs.ts";
import { checkpointSaved, epochCompleted, runCompleted, runStarted } from "../../support/fixtures.ts";
import { eventLog, LEASE_MS, settle, setup } from "./harness.ts";

/** The log is 1..N with every epoch once, whatever attempts wrote it. */
function expectGapFree(log: Awaited<ReturnType<typeof eventLog>>, epochs: number) {
  expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
  const trained = log.filter((e) => e.type === "epoch.completed").map((e) => e.payload.epoch);
  expect(trained).toEqual(Array.from({ length: epochs }, (_, i) => i));
}

describe("leases", () => {
  it("two dispatchers on one database never train the same run", async () => {
    const { threads, make } = await setup({ runs: 1 });
    const first = make();
    const second = make();
    await first.start();
    await second.start();
    await settle();
    second.wake();
    await settle();
    expect(threads.map((t) => t.job.runId)).toEqual(["run_0"]);
    // The second one sweeps while the first holds a live lease: it leaves the run alone.
    await second.sweep();
    await settle();
    expect(threads).toHaveLength(1);
    expect(threads[0]?.terminated).toBe(false);
  });

  it("re-queues a run whose trainer stalled; it resumes from its checkpoint with a gap-free log", async () => {
    const { db, threads, make, advance } = await setup({ maxAttempts: 3 });
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    const stalled = threads[0];
    for (const e of [runStarted(0), epochCompleted(0), checkpointSaved(1)]) stalled?.send(e);
    await settle();
    // The trainer stops sending anything: no step, no event, so no heartbeat.
    advance(LEASE_MS + 1);
    await dispatcher.sweep();
    await settle();
    expect(stalled?.terminated).toBe(true);
    expect(threads).toHaveLength(2);
    const resumed = threads[1];
    expect(resumed?.job).toMatchObject({ runId: "run_0", attempt: 2, resumeEpoch: 1 });
    // A late message from the stalled thread is ignored.
    stalled?.send(epochCompleted(1));
    for (const e of [runStarted(1, 2), epochCompleted(1), checkpointSaved(2), runCompleted()])
      resumed?.send(e);
    resumed?.finish();
    await dispatcher.idle();
    const log = await eventLog(db, "run_0");
    expectGapFree(log, 2);
    expect(log.map((e) => [e.type, e.attempt])).toEqual([
      ["run.started", 1],
      ["epoch.completed", 1],
      ["checkpoint.saved", 1],
      ["run.started", 2],
      ["epoch.completed", 2],
      ["checkpoint.saved", 2],
      ["run.completed", 2],
    ]);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "completed", attempt: 2, leaseOwner: null });
  });

  it("fails the attempt when an event cannot be stored; the run resumes from the log's checkpoint", async () => {
    const { db, threads, make } = await setup({ maxAttempts: 3 });
    // Injected failure: the first attempt's second epoch cannot be written.
    db.run(sql`create temp trigger refuse_epoch before insert on run_events
      when new.type = 'epoch.completed' and new.attempt = 1 and json_extract(new.payload, '$.epoch') = 1
      begin select raise(abort, 'disk I/O error (injected)'); end`);
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    const first = threads[0];
    // The trainer saved a checkpoint after epoch 1 too, but its events never reached the log.
    for (const e of [
      runStarted(0),
      epochCompleted(0),
      checkpointSaved(1),
      epochCompleted(1),
      checkpointSaved(2),
    ])
      first?.send(e);
    await settle();
    expect(first?.terminated).toBe(true);
    const second = threads[1];
    expect(second?.job).toMatchObject({ attempt: 2, resumeEpoch: 1 });
    for (const e of [runStarted(1, 2), epochCompleted(1), checkpointSaved(2), runCompleted()])
      second?.send(e);
    second?.finish();
    await dispatcher.idle();
    const log = await eventLog(db, "run_0");
    expectGapFree(log, 2);
    // Nothing after the lost event was stored for attempt 1.
    expect(log.filter((e) => e.attempt === 1).map((e) => e.type)).toEqual([
      "run.started",
      "epoch.completed",
      "checkpoint.saved",
    ]);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "completed", attempt: 2 });
  });

  it("a cancel asked of another server reaches the trainer with its next lease heartbeat", async () => {
    const { db, threads, make, advance } = await setup();
    const trainer = make();
    const other = make({ concurrency: 0 });
    await trainer.start();
    await other.start();
    await settle();
    threads[0]?.send(runStarted());
    await settle();
    await requestCancel(db, "run_0", 2);
    // The server that got the request has no trainer for the run.
    await other.cancel("run_0");
    expect(threads[0]?.received).toEqual([]);
    advance(LEASE_MS / 2);
    threads[0]?.send(epochCompleted(0));
    await settle();
    expect(threads[0]?.received).toEqual([{ type: "cancel" }]);
  });

  it("tells the runtime when a run it trained is finished (Node prunes its checkpoints then)", async () => {
    const { threads, make } = await setup();
    const finished: string[] = [];
    const dispatcher = make({
      onRunFinished: async (runId) => {
        finished.push(runId);
      },
    });
    await dispatcher.start();
    await settle();
    for (const e of [runStarted(0, 1), epochCompleted(0), checkpointSaved(1), runCompleted()])
      threads[0]?.send(e);
    threads[0]?.finish();
    await dispatcher.idle();
    expect(finished).toEqual(["run_0"]);
  });

  it("cancels a run still in set-up without waiting for its trainer, and takes the next run", async () => {
    const { db, threads, make } = await setup({ runs: 2 });
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    // run_0's trainer is stuck in set-up (a dataset read that never returns): it sends nothing.
    await requestCancel(db, "run_0", 2);
    await dispatcher.cancel("run_0");
    await settle();
    expect(threads[0]?.terminated).toBe(true);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "cancelled", failureReason: "cancelled" });
    expect(threads.map((t) => t.job.runId)).toEqual(["run_0", "run_1"]);
  });
});
