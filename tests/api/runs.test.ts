import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runEvents, runs as runsTable } from "../../db/schema.ts";
import type { ArmReport } from "../../routes/experiments/table.ts";
import type { Run } from "../../routes/runs/schema.ts";
import { ReplayKeys } from "../../src/worker/replay-key.ts";
import {
  checkpointSaved,
  epochCompleted,
  type FakeEvent,
  runCompleted,
  runStarted,
  searchCompleted,
  searchStarted,
  stageGrown,
  stageStarted,
} from "../../support/fixtures.ts";
import {
  claimForTest,
  expectProblem,
  read,
  type TestApp,
  tableCounts,
  testApp,
  tinySpec,
} from "./helpers.ts";

type Stage = { growth: { to?: unknown } | null } & Record<string, unknown>;
type Candidate = { index: number; depth: number; selected: boolean } & Record<string, unknown>;
type Metric = { key: string; step: number; value: number };

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

async function submit(body: unknown = tinySpec()) {
  const response = await t.post("/v1/experiments", body);
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; runs: { id: string; label: string }[] };
}

/** Claims the next queued run and feeds it events as one trainer attempt would. */
async function train(events: readonly FakeEvent[]) {
  const run = await claimForTest(t.db);
  if (!run) throw new Error("no queued run");
  const keys = new ReplayKeys();
  for (const event of events) await t.sink.record(run.id, run.attempt, event, keys.next(event));
  return run.id;
}

const searchingRun = [
  runStarted(),
  searchStarted(0),
  searchCompleted(0),
  stageStarted(0, 1, 14),
  epochCompleted(0),
  checkpointSaved(1),
  epochCompleted(1),
  checkpointSaved(2),
  stageGrown(1),
  stageStarted(1, 2, 28),
  epochCompleted(2),
  epochCompleted(3),
  runCompleted({ searchSeconds: 0.5 }),
];

describe("a run's resources", () => {
  it("GET /v1/runs/{id} reports state, backend and the result summary", async () => {
    await submit(tinySpec({ training: { epochs: 4, stages: 2, warmupEpochs: 0 } }));
    const id = await train(searchingRun);
    const run = await read<Run>(t.app.request(`/v1/runs/${id}`));
    expect(run).toMatchObject({
      id,
      state: "completed",
      attempt: 1,
      epochsCompleted: 4,
      checkpointEpoch: 2,
      lastSeq: searchingRun.length,
      top1: 0.8,
      bestTop1: 0.81,
      trainSeconds: 10,
      backend: { name: "wasm", gpu: false },
      failure: null,
    });
    expect(run.finishedAt).not.toBeNull();
  });

  it("GET /v1/runs/{id}/stages shows what each stage trained and the growth that opened it", async () => {
    await submit(tinySpec({ arms: [{ arm: "prog" }], training: { epochs: 4, stages: 2, warmupEpochs: 0 } }));
    const id = await train(searchingRun);
    const { items } = await read<{ items: Stage[] }>(t.app.request(`/v1/runs/${id}/stages`));
    expect(items).toMatchObject([
      { stage: 0, depth: 1, side: 14, tokens: 5, state: "completed", operator: null },
      { stage: 1, depth: 2, side: 28, tokens: 17, state: "completed", operator: "mogrow" },
    ]);
    expect(items[1]?.growth?.to).toEqual({ depth: 2, side: 28, tokens: 17 });
  });

  it("GET /v1/runs/{id}/search lists every candidate with its scores", async () => {
    await submit();
    const id = await train(searchingRun);
    const { items } = await read<{ items: Candidate[] }>(t.app.request(`/v1/runs/${id}/search`));
    expect(
      items.map((c: { index: number; depth: number; selected: boolean }) => [c.index, c.depth, c.selected]),
    ).toEqual([
      [0, 1, true],
      [1, 2, false],
      [2, 2, false],
    ]);
    expect(items[1]).toMatchObject({ stage: 0, side: 14, loss: 1.9, cost: 0.02, score: 2 });
  });

  it("GET /v1/runs/{id}/metrics pages by (key, step) and filters by key", async () => {
    await submit();
    const id = await train(searchingRun);
    const best = await read<{ items: Metric[] }>(t.app.request(`/v1/runs/${id}/metrics?key=test.best`));
    expect(best.items.map((m) => [m.step, m.value])).toEqual([
      [4, 0.5],
      [8, 0.6],
      [12, 0.7],
      [16, 0.8],
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : "";
      const page = await read<{ items: Metric[]; nextCursor: string | null }>(
        t.app.request(`/v1/runs/${id}/metrics?limit=7${query}`),
      );
      seen.push(...page.items.map((m) => `${m.key}@${m.step}`));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    // 12 series per epoch: 8 training ones, online top-1, best, and one per EMA (fast, slow).
    expect(seen).toHaveLength(4 * 12);
  });

  it("GET /v1/runs/{id}/metrics/keys names every stored key with what it measures; an unknown key is a 422", async () => {
    await submit();
    const id = await train(searchingRun);
    const queued = (await submit()).runs[0]?.id as string;
    const { items } = await read<{
      items: { key: string; description: string; count: number; lastStep: number }[];
    }>(t.app.request(`/v1/runs/${id}/metrics/keys`));
    expect(items.map((k) => k.key)).toEqual([
      "depth",
      "epoch_seconds",
      "flops_per_image",
      "images_per_second",
      "lr",
      "test.best",
      "test.ema.fast",
      "test.ema.slow",
      "test.top1",
      "tokens",
      "train.accuracy",
      "train.loss",
    ]);
    expect(items.every((k) => k.count === 4 && k.lastStep === 16 && k.description.length > 0)).toBe(true);
    // The scheme's keys answer an empty page for a run without values yet; others are refused.
    expect(
      await read<{ items: Metric[] }>(t.app.request(`/v1/runs/${queued}/metrics?key=train.loss`)),
    ).toEqual({
      items: [],
      nextCursor: null,
    });
    for (const key of ["trainLoss", "train_loss", "test.ema.", "loss"]) {
      const body = await expectProblem(
        await t.app.request(`/v1/runs/${id}/metrics?key=${key}`),
        422,
        "validation_failed",
      );
      expect(body.errors, key).toMatchObject([
        { location: "query", path: "key", message: expect.stringContaining("not a metric key") },
      ]);
    }
  });
});

describe("POST /v1/runs/{id}/cancel", () => {
  it("ends a queued run at once, with its run.failed event", async () => {
    const { runs } = await submit();
    const id = runs[0]?.id as string;
    const response = await t.app.request(`/v1/runs/${id}/cancel`, { method: "POST" });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id, state: "cancelled", cancelRequested: true });
    const run = await read<Run>(t.app.request(`/v1/runs/${id}`));
    expect(run.failure).toEqual({ reason: "cancelled", message: "the run was cancelled before it started" });
    expect(run.lastSeq).toBe(1);
  });

  it("flags a running run and leaves ending it to its trainer", async () => {
    await submit();
    const id = await train([runStarted()]);
    const response = await t.app.request(`/v1/runs/${id}/cancel`, { method: "POST" });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ state: "running", cancelRequested: true });
  });

  it("is a 409 problem for a finished run, and writes nothing", async () => {
    await submit();
    const id = await train(searchingRun);
    const before = await tableCounts(t.db);
    const response = await t.app.request(`/v1/runs/${id}/cancel`, { method: "POST" });
    const problem = await expectProblem(response, 409, "run_not_cancellable");
    expect(problem.detail).toBe(`run ${id} is already completed`);
    expect(await tableCounts(t.db)).toEqual(before);
  });
});

describe("POST /v1/runs/{id}/pause and /resume", () => {
  const pause = (id: string) => t.app.request(`/v1/runs/${id}/pause`, { method: "POST" });
  const resume = (id: string) => t.app.request(`/v1/runs/${id}/resume`, { method: "POST" });
  const eventTypes = async (id: string) =>
    (await t.db.select().from(runEvents).where(eq(runEvents.runId, id))).map((e) => e.type);

  it("pauses a queued run at once with its run.paused event, and resumes it to the queue", async () => {
    const { runs } = await submit();
    const id = runs[0]?.id as string;
    const response = await pause(id);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id, state: "paused", pauseRequested: false, attempt: 0 });
    // Nobody claims a paused run.
    expect(await claimForTest(t.db)).toBeUndefined();
    // Pausing it again is harmless: the run as it is, no second event.
    const again = await pause(id);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ state: "paused" });
    expect(await eventTypes(id)).toEqual(["run.paused"]);
    const resumed = await resume(id);
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ id, state: "queued", lastSeq: 2 });
    expect(await eventTypes(id)).toEqual(["run.paused", "run.resumed"]);
    expect((await claimForTest(t.db))?.id).toBe(id);
  });

  it("flags a running run; its trainer's run.paused makes it paused, lease cleared, attempt given back", async () => {
    await submit();
    const id = await train([runStarted(), epochCompleted(0), checkpointSaved(1)]);
    const response = await pause(id);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ state: "running", pauseRequested: true, attempt: 1 });
    await t.sink.record(id, 1, { type: "run.paused", epoch: 1, step: 6 }, null);
    const [row] = await t.db.select().from(runsTable).where(eq(runsTable.id, id));
    expect(row).toMatchObject({
      state: "paused",
      pauseRequested: false,
      attempt: 0,
      leaseOwner: null,
      leaseExpiresAt: null,
      checkpointEpoch: 1,
    });
    // A paused run can be cancelled: at once, there is no trainer.
    const cancelled = await t.app.request(`/v1/runs/${id}/cancel`, { method: "POST" });
    expect(cancelled.status).toBe(202);
    expect(await cancelled.json()).toMatchObject({ state: "cancelled" });
  });

  it("is a 409 problem to pause a finished run or resume one that is not paused, and writes nothing", async () => {
    await submit();
    const finished = await train(searchingRun);
    const { runs } = await submit();
    const queued = runs[0]?.id as string;
    const before = await tableCounts(t.db);
    const notPausable = await expectProblem(await pause(finished), 409, "run_not_pausable");
    expect(notPausable.detail).toBe(`run ${finished} is already completed`);
    const notPaused = await expectProblem(await resume(queued), 409, "run_not_paused");
    expect(notPaused.detail).toBe(`run ${queued} is queued, not paused`);
    await expectProblem(await resume(finished), 409, "run_not_paused");
    expect(await tableCounts(t.db)).toEqual(before);
  });

  it("is a 409 problem to pause a run being cancelled", async () => {
    await submit();
    const id = await train([runStarted()]);
    await t.app.request(`/v1/runs/${id}/cancel`, { method: "POST" });
    const problem = await expectProblem(await pause(id), 409, "run_not_pausable");
    expect(problem.detail).toBe(`run ${id} is being cancelled`);
  });
});

describe("GET /v1/experiments/{id}/report", () => {
  it("compares every arm with the original one (the paper's Table 3)", async () => {
    const { id } = await submit(
      tinySpec({
        arms: [{ arm: "original" }, { arm: "prog" }],
        training: { epochs: 2, stages: 2, batchSize: 32, warmupEpochs: 0 },
      }),
    );
    await train([runStarted(), runCompleted({ top1: 0.8, trainSeconds: 20, flopsPerStepMean: 6e5 })]);
    await train([
      runStarted(),
      stageStarted(0, 1, 14, 0),
      runCompleted({ top1: 0.78, trainSeconds: 9, flopsPerStepMean: 3e5, searchSeconds: 1 }),
    ]);
    const report = await read<{ arms: ArmReport[] }>(t.app.request(`/v1/experiments/${id}/report`));
    expect(report).toMatchObject({ experimentId: id, finished: true, baseline: "original" });
    const [original, prog] = report.arms;
    expect(original).toMatchObject({
      arm: "original",
      top1: 0.8,
      wallSpeedup: 0,
      trainSearchSpeedup: 0,
      flopsSpeedup: 0,
    });
    expect(prog).toMatchObject({ arm: "prog", kind: "prog", completed: 1, top1: 0.78, searchShare: 1 / 11 });
    // Train + search seconds: 20 against 9 + 1; wall seconds (fixtures add 2): 22 against 11.
    expect(prog?.trainSearchSeconds).toBe(10);
    expect(prog?.trainSearchSpeedup).toBeCloseTo(20 / 10 - 1);
    expect(prog?.wallSpeedup).toBeCloseTo(22 / 11 - 1);
    expect(prog?.flopsSpeedup).toBeCloseTo(1);
    expect(prog?.schedule[0]).toEqual({ stage: 0, startEpoch: 0, depth: 1, side: 14 });
  });
});

describe("unknown or malformed run ids", () => {
  it.each(["", "/stages", "/search", "/metrics", "/events"])(
    "GET /v1/runs/run_missing%s is a 404 problem",
    async (suffix) => {
      const path = `/v1/runs/run_missing${suffix}`;
      const problem = await expectProblem(await t.app.request(path), 404, "not_found");
      expect(problem).toMatchObject({ detail: "no run run_missing", instance: path });
    },
  );

  it("POST /v1/runs/run_missing/cancel is a 404 problem", async () => {
    await expectProblem(
      await t.app.request("/v1/runs/run_missing/cancel", { method: "POST" }),
      404,
      "not_found",
    );
  });

  it.each([
    ["/metrics?limit=0", "query"],
    ["/metrics?cursor=zzz", "query"],
    ["/events?since=-1", "query"],
  ])("GET /v1/runs/{id}%s is a 422 problem", async (suffix, location) => {
    const { runs } = await submit();
    const problem = await expectProblem(
      await t.app.request(`/v1/runs/${runs[0]?.id}${suffix}`),
      422,
      "validation_failed",
    );
    expect((problem.errors as { location: string }[])[0]?.location).toBe(location);
  });
});
