import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { Db } from "../../db/database.ts";
import { getRun, requestCancel } from "../../db/runs.ts";
import { experiments } from "../../db/schema.ts";
import { parseSpec } from "../../src/core/spec.ts";
import { Dispatcher } from "../../src/dispatch/dispatcher.ts";
import type { StoredEventSink } from "../../src/events/sink.ts";
import { startTrainerProcess } from "../../src/worker/trainer-process.ts";
import {
  checkpointSaved,
  epochCompleted,
  runCompleted,
  runFailed,
  runStarted,
  tinySpec,
} from "../../support/fixtures.ts";
import { eventLog, LEASE_MS, settle, setup } from "./harness.ts";

describe("Dispatcher", () => {
  it("trains queued runs one at a time and stores their events", async () => {
    const { db, threads, make } = await setup({ runs: 2 });
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    expect(threads.map((t) => t.job.runId)).toEqual(["run_0"]);
    expect(threads[0]?.job).toMatchObject({
      arm: "original",
      seed: 0,
      checkpointDir: "/tmp/autoprog-test/runs/run_0/checkpoints",
    });
    for (const event of [runStarted(), epochCompleted(0), runCompleted()]) threads[0]?.send(event);
    threads[0]?.finish();
    await settle();
    expect((await getRun(db, "run_0"))?.state).toBe("completed");
    // The next claim follows the finish asynchronously: wait for it rather than for a fixed time (flaky under load).
    await vi.waitFor(() => expect(threads.map((t) => t.job.runId)).toEqual(["run_0", "run_1"]), {
      timeout: 10_000,
    });
    expect((await eventLog(db, "run_0")).map((e) => e.seq)).toEqual([1, 2, 3]);
    await dispatcher.stop();
    expect(await getRun(db, "run_1")).toMatchObject({ state: "queued", attempt: 0 });
  });

  it("re-queues a run whose trainer crashed, and fails it after the last attempt", async () => {
    const { db, threads, make } = await setup({ maxAttempts: 2 });
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    threads[0]?.send(runStarted());
    threads[0]?.emit("error", new Error("wasm: Aborted()"));
    threads[0]?.emit("exit", 1);
    await settle();
    expect(threads).toHaveLength(2);
    expect((await getRun(db, "run_0"))?.attempt).toBe(2);
    threads[1]?.emit("exit", 1);
    await dispatcher.idle();
    const run = await getRun(db, "run_0");
    expect(run).toMatchObject({
      state: "failed",
      failureReason: "error",
      failureMessage: "the trainer process exited with code 1",
    });
    expect((await eventLog(db, "run_0")).map((e) => [e.type, e.attempt])).toEqual([
      ["run.started", 1],
      ["attempt.failed", 1],
      ["run.failed", 2],
    ]);
    expect((await eventLog(db, "run_0"))[1]?.payload).toEqual({
      type: "attempt.failed",
      reason: "error",
      message: "the trainer crashed: wasm: Aborted()",
      epoch: null,
      step: null,
    });
  });

  it("records a crash in set-up (before run.started) as an event of the attempt it spent", async () => {
    const { db, threads, make } = await setup({ maxAttempts: 3 });
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    // The dataset could not be read: the trainer throws before it reports run.started.
    threads[0]?.finish("ENOENT: no such file /tmp/autoprog-test/cifar/data_batch_1.bin");
    await settle();
    expect(threads).toHaveLength(2);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "running", attempt: 2 });
    threads[1]?.send(runStarted());
    threads[1]?.send(runCompleted());
    threads[1]?.finish();
    await dispatcher.idle();
    const log = await eventLog(db, "run_0");
    expect(log.map((e) => [e.type, e.attempt])).toEqual([
      ["attempt.failed", 1],
      ["run.started", 2],
      ["run.completed", 2],
    ]);
    // Server paths stay on the server: the message is relative to the data folder.
    expect(log[0]?.payload).toEqual({
      type: "attempt.failed",
      reason: "failed_setup",
      message: "the trainer crashed: ENOENT: no such file cifar/data_batch_1.bin",
      epoch: null,
      step: null,
    });
    expect(await getRun(db, "run_0")).toMatchObject({ state: "completed", attempt: 2 });
  });

  it.each([
    [
      "a worker heap limit",
      Object.assign(new Error("Worker terminated due to reaching memory limit: JS heap out of memory"), {
        code: "ERR_WORKER_OUT_OF_MEMORY",
      }),
    ],
    ["an ArrayBuffer the backend could not allocate", new RangeError("Array buffer allocation failed")],
  ])(
    "fails a run whose trainer ran out of memory (%s) once, without another attempt",
    async (_what, error) => {
      const { db, threads, make } = await setup({ maxAttempts: 3 });
      const dispatcher = make();
      await dispatcher.start();
      await settle();
      threads[0]?.send(runStarted());
      threads[0]?.emit("error", error);
      threads[0]?.emit("exit", 1);
      await dispatcher.idle();
      expect(threads).toHaveLength(1);
      const run = await getRun(db, "run_0");
      expect(run).toMatchObject({ state: "failed", failureReason: "out_of_memory", attempt: 1 });
      expect(run?.failureMessage).toContain(error.message);
      expect((await eventLog(db, "run_0")).map((e) => [e.type, e.attempt])).toEqual([
        ["run.started", 1],
        ["run.failed", 1],
      ]);
    },
  );

  it("stores each event once when a resumed attempt replays what the interrupted one stored", async () => {
    const { db, threads, make, advance } = await setup();
    const first = make();
    await first.start();
    await settle();
    for (const e of [runStarted(0), epochCompleted(0), checkpointSaved(1), epochCompleted(1)])
      threads[0]?.send(e);
    await settle();
    // The process dies here: nothing is cleaned up, the run is left running until its lease expires.
    advance(LEASE_MS + 1);
    const second = make();
    await second.start();
    await settle();
    for (const e of [runStarted(1), epochCompleted(1), checkpointSaved(2), runCompleted()])
      threads[1]?.send(e);
    threads[1]?.finish();
    await second.idle();
    const log = await eventLog(db, "run_0");
    expect(log.map((e) => [e.seq, e.type, e.attempt])).toEqual([
      [1, "run.started", 1],
      [2, "epoch.completed", 1],
      [3, "checkpoint.saved", 1],
      [4, "epoch.completed", 1],
      [5, "run.started", 2],
      [6, "checkpoint.saved", 2],
      [7, "run.completed", 2],
    ]);
    expect(log[4]?.payload.startEpoch).toBe(1);
    expect(await getRun(db, "run_0")).toMatchObject({ state: "completed", attempt: 2, lastSeq: 7 });
  });

  it("on start, fails runs left running that have used up their attempts", async () => {
    const { db, threads, make, advance } = await setup({ maxAttempts: 1 });
    await make().start();
    await settle();
    threads[0]?.send(runStarted());
    await settle();
    advance(LEASE_MS + 1);
    const restarted = make();
    await restarted.start();
    await restarted.idle();
    expect(await getRun(db, "run_0")).toMatchObject({
      state: "failed",
      failureMessage: "interrupted 1 times; not trying again",
    });
    expect(threads).toHaveLength(1);
  });

  it("cancels a running run through its trainer, which reports it", async () => {
    const { db, threads, make, sink } = await setup();
    const dispatcher = make();
    await dispatcher.start();
    await settle();
    threads[0]?.send(runStarted());
    await dispatcher.cancel("run_0");
    expect(threads[0]?.received).toEqual([{ type: "cancel" }]);
    threads[0]?.send(runFailed("cancelled", "the run was cancelled"));
    threads[0]?.finish();
    await dispatcher.idle();
    await sink.drained("run_0");
    expect(await getRun(db, "run_0")).toMatchObject({ state: "cancelled", failureReason: "cancelled" });
  });
});

/** A dispatcher that trains in real trainer processes, checkpointing under a fresh folder. */
async function realDispatcher(db: Db, sink: StoredEventSink) {
  const dataDir = await mkdtemp(join(tmpdir(), "autoprog-dispatch-"));
  const dispatcher = new Dispatcher({
    db,
    sink,
    concurrency: 1,
    maxAttempts: 1,
    dataDir,
    startTrainer: startTrainerProcess,
  });
  return { dispatcher, dataDir };
}

describe("the real trainer process", () => {
  it("trains a tiny MNIST run in a child process and the events reach the database", async () => {
    const { db, sink } = await setup();
    const { dispatcher } = await realDispatcher(db, sink);
    await dispatcher.start();
    await dispatcher.idle();
    const run = await getRun(db, "run_0");
    expect(run).toMatchObject({ state: "completed", attempt: 1, epochsCompleted: 2, checkpointEpoch: 2 });
    expect(run?.backend?.name).toBe("wasm");
    const types = (await eventLog(db, "run_0")).map((e) => e.type);
    expect(types[0]).toBe("run.started");
    expect(types.at(-1)).toBe("run.completed");
    expect(types.filter((t) => t === "epoch.completed")).toHaveLength(2);
  });

  it("cancels a real run at a step boundary, keeping its checkpoint", async () => {
    const { db, sink } = await setup();
    await db
      .update(experiments)
      .set({ spec: parseSpec(tinySpec({ training: { epochs: 20, warmupEpochs: 0 } })) });
    const { dispatcher, dataDir } = await realDispatcher(db, sink);
    const checkpointed = new Promise<void>((resolve) => {
      sink.hub.subscribe("run_0", (event) => {
        if (event.type === "checkpoint.saved") resolve();
      });
    });
    await dispatcher.start();
    await checkpointed;
    await requestCancel(db, "run_0", Date.now());
    await dispatcher.cancel("run_0");
    await dispatcher.idle();
    const run = await getRun(db, "run_0");
    expect(run).toMatchObject({ state: "cancelled", failureReason: "cancelled" });
    expect(run?.epochsCompleted).toBeLessThan(20);
    expect(run?.checkpointEpoch).toBeGreaterThanOrEqual(1);
    const files = await readdir(join(dataDir, "runs", "run_0", "checkpoints"));
    expect(files.some((f) => f.endsWith(".json"))).toBe(true);
  });

  it("cancels a real run within a step, not at the end of its epoch", async () => {
    const { db, sink } = await setup();
    // 64 steps per epoch: a cancel that waited for the epoch's end would let epoch 0 complete.
    const spec = tinySpec({
      dataset: { name: "mnist", trainLimit: 1024, testLimit: 64 },
      training: { epochs: 3, batchSize: 16, warmupEpochs: 0, evalBatchSize: 64 },
    });
    await db.update(experiments).set({ spec: parseSpec(spec) });
    const { dispatcher } = await realDispatcher(db, sink);
    const started = new Promise<void>((resolve) => {
      sink.hub.subscribe("run_0", (event) => {
        if (event.type === "stage.started") resolve();
      });
    });
    await dispatcher.start();
    await started;
    await requestCancel(db, "run_0", Date.now());
    await dispatcher.cancel("run_0");
    await dispatcher.idle();
    const log = await eventLog(db, "run_0");
    const failed = log.at(-1);
    expect(failed).toMatchObject({ type: "run.failed", payload: { reason: "cancelled", epoch: 0 } });
    expect(log.some((e) => e.type === "epoch.completed")).toBe(false);
    expect(failed?.payload.step).toBeLessThan(64);
  });
});
