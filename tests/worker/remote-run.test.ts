import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readEvents } from "../../db/events.ts";
import { getRun } from "../../db/runs.ts";
import { createAutoprogClient } from "../../src/client/client.ts";
import { WorkerApi } from "../../src/worker/remote-api.ts";
import { RemoteRun } from "../../src/worker/remote-run.ts";
import { runStarted } from "../../support/fixtures.ts";
import { type TestApp, testApp, tinySpec, WORKER_KEY } from "../api/helpers.ts";
import { FakeThread } from "../dispatch/harness.ts";

/**
 * A pull worker's attempt that crashes records it as an event of that attempt (issue 23): in
 * set-up, before `run.started`, nothing else would show the attempt it spent.
 */
let t: TestApp;
let workDir: string;
beforeEach(async () => {
  t = testApp();
  workDir = await mkdtemp(join(tmpdir(), "autoprog-remote-run-"));
});
afterEach(async () => {
  t.close();
  await rm(workDir, { recursive: true, force: true });
});

/** The worker's API client, talking to the in-process app. */
const workerApi = () =>
  new WorkerApi(
    createAutoprogClient({
      api: "http://autoprog.test",
      key: WORKER_KEY,
      fetch: async (input, init) => t.raw.request(input, init),
    }),
    { tries: 1, firstMs: 1, maxMs: 1, jitter: "none" },
  );

/** Leases the queued run and runs it with a trainer that does what `act` says. */
async function attempt(act: (thread: FakeThread) => void) {
  const api = workerApi();
  const grant = await api.lease("w1", 0);
  if (!grant) throw new Error("nothing to lease");
  const run = new RemoteRun(grant, {
    api,
    startTrainer: (job) => {
      const thread = new FakeThread(job);
      setImmediate(() => act(thread));
      return thread;
    },
    graceMs: 1_000,
    dataDir: "/srv/data",
    workDir: join(workDir, grant.run.id),
    backend: null,
    cacheDir: null,
    log: () => {},
  });
  return { grant, end: await run.run() };
}

describe("a pull worker's crashed attempt", () => {
  it("in set-up is an attempt.failed (failed_setup) of that attempt; the sweep re-queues it, counted", async () => {
    const created = await t.post("/v1/experiments", tinySpec({ seeds: [0] }));
    const runId = ((await created.json()) as { runs: { id: string }[] }).runs[0]?.id as string;
    const first = await attempt((thread) => {
      thread.finish("ENOENT: no such file /srv/data/cifar/data_batch_1.bin");
      thread.exit(1);
    });
    expect(first).toMatchObject({ end: "crashed", grant: { run: { attempt: 1 } } });
    const events = await readEvents(t.db, runId, 0, 100);
    expect(events.map((e) => [e.type, e.attempt])).toEqual([["attempt.failed", 1]]);
    expect(JSON.parse(events[0]?.payload ?? "{}")).toEqual({
      type: "attempt.failed",
      reason: "failed_setup",
      message: "the trainer crashed: ENOENT: no such file cifar/data_batch_1.bin",
      epoch: null,
      step: null,
    });
    // The lease runs out; the attempt stays spent.
    t.advance(61_000);
    await t.dispatcher.sweep();
    expect(await getRun(t.db, runId)).toMatchObject({ state: "queued", attempt: 1 });

    // A crash after run.started is the attempt's too, as `error`.
    const second = await attempt((thread) => {
      thread.send(runStarted());
      thread.emit("error", new Error("wasm: Aborted()"));
      thread.exit(1);
    });
    expect(second).toMatchObject({ end: "crashed", grant: { run: { attempt: 2 } } });
    const later = (await readEvents(t.db, runId, 0, 100)).map((e) => ({
      type: e.type,
      attempt: e.attempt,
      ...JSON.parse(e.payload),
    }));
    expect(later.map((e) => [e.type, e.attempt])).toEqual([
      ["attempt.failed", 1],
      ["run.started", 2],
      ["attempt.failed", 2],
    ]);
    expect(later[2]).toMatchObject({ reason: "error", message: "the trainer crashed: wasm: Aborted()" });
  });
});

describe("a pull worker's paused attempt", () => {
  it("passes the API's pause to its trainer; run.paused ends the lease with the run paused, no attempt spent", async () => {
    const created = await t.post("/v1/experiments", tinySpec({ seeds: [0] }));
    const runId = ((await created.json()) as { runs: { id: string }[] }).runs[0]?.id as string;
    let trainer: FakeThread | undefined;
    const { end } = await attempt((thread) => {
      trainer = thread;
      void (async () => {
        expect((await t.post(`/v1/runs/${runId}/pause`, "")).status).toBe(202);
        // The reply to the next event batch says pause.
        thread.send(runStarted());
        while (!thread.received.some((m) => m.type === "pause")) await new Promise((r) => setTimeout(r, 10));
        thread.send({ type: "run.paused", epoch: 0, step: 3 });
        thread.finish();
      })();
    });
    expect(end).toBe("paused");
    expect(trainer?.received.map((m) => m.type)).toContain("pause");
    const events = await readEvents(t.db, runId, 0, 100);
    expect(events.map((e) => e.type)).toEqual(["run.started", "run.paused"]);
    expect(await getRun(t.db, runId)).toMatchObject({ state: "paused", attempt: 0, leaseOwner: null });
  });
});
