import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { z } from "zod";
import type { QueuePageSchema } from "../../routes/queue/schema.ts";
import { Dispatcher } from "../../src/dispatch/dispatcher.ts";
import { runCompleted, runStarted } from "../../support/fixtures.ts";
import { read, type TestApp, testApp, tinySpec } from "../api/helpers.ts";
import { FakeThread, settle } from "./harness.ts";

type QueuePage = z.infer<typeof QueuePageSchema>;

/**
 * Two projects share two trainer slots: `default` submits 20 runs, then `b` submits 2. Claims
 * are fair (db/queue.ts): b's runs start long before default's queue drains.
 */

let t: TestApp;
let dispatcher: Dispatcher | null = null;
afterEach(async () => {
  await dispatcher?.stop();
  dispatcher = null;
  t.close();
});

/** 20 runs: two arms × ten seeds. */
const twenty = tinySpec({
  name: "many",
  arms: [
    { arm: "original", label: "first" },
    { arm: "original", label: "second" },
  ],
  seeds: [...Array(10).keys()],
});
const two = tinySpec({ name: "few", seeds: [0, 1] });

async function submit(spec: unknown, headers: Record<string, string> = {}) {
  t.advance(1_000); // each submission a second after the one before
  const response = await t.post("/v1/experiments", spec, headers);
  expect(response.status, await response.clone().text()).toBe(201);
  return read<{ runs: { id: string }[] }>(response);
}

/** A dispatcher over the test app's database whose trainers the test finishes by hand. */
function trainers(options: { slots: number; projectMaxRunning?: number }) {
  const threads: FakeThread[] = [];
  dispatcher = new Dispatcher({
    db: t.db,
    sink: t.sink,
    concurrency: options.slots,
    maxAttempts: 3,
    dataDir: "/tmp/autoprog-test",
    projectMaxRunning: options.projectMaxRunning ?? null,
    clock: () => Date.now(),
    startTrainer: (job) => {
      const thread = new FakeThread(job);
      threads.push(thread);
      return thread;
    },
  });
  return { threads, dispatcher };
}

/** Waits (a loaded machine may be slow) until the dispatcher has started `count` trainers. */
async function untilStarted(threads: readonly FakeThread[], count: number) {
  for (let waited = 0; threads.length < count && waited < 5_000; waited += 20) await settle();
  expect(threads.length).toBeGreaterThanOrEqual(count);
}

/** Ends the thread's run as a trainer would; the dispatcher then claims the next run, if any. */
async function complete(threads: readonly FakeThread[], thread: FakeThread, next = true) {
  const before = threads.length;
  thread.send(runStarted(0, 2));
  thread.send(runCompleted());
  thread.finish();
  if (next) await untilStarted(threads, before + 1);
  await settle();
}

describe("fair queue across projects", () => {
  let b: { headers: Record<string, string> };
  beforeEach(async () => {
    t = testApp();
    b = await t.keyFor("b", "member");
  });

  it("starts the second project's runs before the first's queue drains", async () => {
    const many = await submit(twenty);
    const few = await submit(two, b.headers);
    const fewIds = new Set(few.runs.map((r) => r.id));
    const { threads, dispatcher: d } = trainers({ slots: 2 });
    await d.start();
    await untilStarted(threads, 2);
    // Two trainers, the oldest first: one run of each project.
    expect(threads.map((th) => fewIds.has(th.job.runId))).toEqual([false, true]);
    // Finish runs in start order until both of b's runs have started.
    for (let i = 0; threads.filter((th) => fewIds.has(th.job.runId)).length < 2; i++) {
      const next = threads[i];
      if (!next) throw new Error("no trainer left to finish");
      await complete(threads, next);
    }
    const started = threads.map((th) => th.job.runId);
    // b's second run started third or fourth, while default still had at least 16 runs queued.
    const lastOfFew = Math.max(...started.map((id, i) => (fewIds.has(id) ? i : -1)));
    expect(lastOfFew).toBeLessThan(4);
    const queue = await read<QueuePage>(t.app.request("/v1/queue?limit=100"));
    expect(queue.queued).toBeGreaterThanOrEqual(16);
    // default's runs start in submission order.
    const manyOrder = many.runs.map((r) => r.id);
    const manyStarted = started.filter((id) => !fewIds.has(id));
    expect(manyStarted).toEqual(manyOrder.slice(0, manyStarted.length));
  });

  it("serves projects in turn on one trainer", async () => {
    await submit(twenty);
    const few = await submit(two, b.headers);
    const fewIds = new Set(few.runs.map((r) => r.id));
    const { threads, dispatcher: d } = trainers({ slots: 1 });
    await d.start();
    await untilStarted(threads, 1);
    for (let i = 0; i < 4; i++) {
      const thread = threads[i];
      if (!thread) throw new Error(`trainer ${i} never started`);
      await new Promise((resolve) => setTimeout(resolve, 5)); // starts at distinct milliseconds
      await complete(threads, thread);
    }
    expect(threads.slice(0, 4).map((th) => (fewIds.has(th.job.runId) ? "b" : "default"))).toEqual([
      "default",
      "b",
      "default",
      "b",
    ]);
  });

  it("holds the per-project quota", async () => {
    await submit(twenty);
    const { threads, dispatcher: d } = trainers({ slots: 3, projectMaxRunning: 1 });
    await d.start();
    await untilStarted(threads, 1);
    await settle();
    // Three free trainers, one project at its quota of one: two stay idle.
    expect(threads).toHaveLength(1);
    const few = await submit(two, b.headers);
    d.wake();
    await untilStarted(threads, 2);
    await settle();
    expect(threads).toHaveLength(2);
    expect(threads[1]?.job.runId).toBe(few.runs[0]?.id);
    await complete(threads, threads[0] as FakeThread);
    // default's run ended: its next one takes the freed slot; b stays at its one.
    expect(threads).toHaveLength(3);
    expect(
      threads.filter((th) => !th.terminated && few.runs.some((r) => r.id === th.job.runId)),
    ).toHaveLength(1);
  });
});

describe("GET /v1/queue", () => {
  beforeEach(() => {
    t = testApp({ queuePolicy: { projectMaxRunning: 4 } });
  });

  it("shows the caller's project its queued runs in claim order, with positions across pages", async () => {
    const b = await t.keyFor("b", "member");
    const many = await submit(twenty);
    const few = await submit(two, b.headers);
    const { threads, dispatcher: d } = trainers({ slots: 2 });
    await d.start();
    await untilStarted(threads, 2);
    expect(threads).toHaveLength(2);

    const first = await read<QueuePage>(t.app.request("/v1/queue?limit=8"));
    expect(first).toMatchObject({ running: 1, queued: 19, projectMaxRunning: 4, projectsQueued: 2 });
    const rest: QueuePage["items"] = [];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await read<QueuePage>(t.app.request(`/v1/queue?limit=8&cursor=${cursor}`));
      rest.push(...page.items);
      cursor = page.nextCursor;
    }
    const items = [...first.items, ...rest];
    expect(items.map((i) => i.position)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect(items.map((i) => i.runId)).toEqual(many.runs.slice(1).map((r) => r.id));
    expect(items[0]).toMatchObject({ arm: "first", seed: 1, attempt: 0 });

    // b sees only its own: one running, one queued at position 1.
    const mine = await read<QueuePage>(t.app.request("/v1/queue", { headers: b.headers }));
    expect(mine).toMatchObject({ running: 1, queued: 1, nextCursor: null });
    expect(mine.items.map((i) => [i.position, i.runId])).toEqual([[1, few.runs[1]?.id]]);
  });

  it("is refused to worker keys", async () => {
    const worker = await t.keyFor("default", "worker");
    const response = await t.app.request("/v1/queue", { headers: worker.headers });
    expect(response.status).toBe(403);
  });
});
