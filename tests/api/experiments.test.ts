import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { z } from "zod";
import { idempotencyKeys } from "../../db/schema.ts";
import type { Experiment, ExperimentSummarySchema } from "../../routes/experiments/schema.ts";
import type { Run } from "../../routes/runs/schema.ts";
import { epochCompleted, runCompleted, runStarted } from "../../support/fixtures.ts";
import {
  claimForTest,
  expectProblem,
  read,
  type TestApp,
  tableCounts,
  testApp,
  tinySpec,
} from "./helpers.ts";

type StageList = { items: Record<string, unknown>[] };
type ExperimentPage = { items: z.infer<typeof ExperimentSummarySchema>[]; nextCursor: string | null };
type RunPage = { items: Run[]; nextCursor: string | null };
type Plan = { spec: { training: { weightDecay: number } }; arms: { arm: string; flopsSpeedup: number }[] };

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

const twoSeeds = tinySpec({
  seeds: [0, 1],
  arms: [{ arm: "original" }, { arm: "prog" }],
  training: { epochs: 4, batchSize: 32, warmupEpochs: 0 },
});

describe("POST /v1/experiments", () => {
  it("creates the experiment with one queued run per arm × seed and their planned stages", async () => {
    const response = await t.post("/v1/experiments", twoSeeds);
    expect(response.status).toBe(201);
    const body = await read<Experiment>(response);
    expect(response.headers.get("location")).toBe(`/v1/experiments/${body.id}`);
    expect(body.id).toMatch(/^exp_[0-9a-z]{26}$/);
    expect((body.spec as { training: { stages: number } }).training.stages).toBe(4);
    expect(body.runs.map((r) => `${r.label}/${r.seed}`)).toEqual([
      "original/0",
      "original/1",
      "prog/0",
      "prog/1",
    ]);
    for (const run of body.runs) {
      expect(run).toMatchObject({
        state: "queued",
        attempt: 0,
        lastSeq: 0,
        epochs: 4,
        experimentId: body.id,
      });
    }
    const progRun = body.runs[2]?.id;
    const stages = await read<StageList>(t.app.request(`/v1/runs/${progRun}/stages`));
    expect(stages.items.length).toBe(4);
    expect(stages.items[0]).toMatchObject({ stage: 0, state: "planned", depth: 1, side: 14 });

    const again = await t.app.request(`/v1/experiments/${body.id}`);
    expect(await again.json()).toEqual(body);
  });

  it("validates: the normalised spec and per-arm plans, writing nothing", async () => {
    const before = await tableCounts(t.db);
    const response = await t.post("/v1/experiments/validate", twoSeeds);
    expect(response.status).toBe(200);
    const body = await read<Plan>(response);
    expect(body.spec.training.weightDecay).toBe(0.05);
    expect(body.arms.map((a) => a.arm)).toEqual(["original", "prog"]);
    expect(body.arms[0]?.flopsSpeedup).toBe(0);
    expect(body.arms[1]?.flopsSpeedup).toBeGreaterThan(0);
    expect(await tableCounts(t.db)).toEqual(before);
  });

  it.each(["true", "1"])(
    "sends the older POST /v1/experiments?validate_only=%s to the validate route (308), writing nothing",
    async (value) => {
      const before = await tableCounts(t.db);
      const response = await t.post(`/v1/experiments?validate_only=${value}`, twoSeeds, {
        "idempotency-key": `old-${value}`,
      });
      expect(response.status).toBe(308);
      // A path: the client stays on the host it came in on, and sends the same body there.
      expect(response.headers.get("location")).toBe("/v1/experiments/validate");
      expect(await tableCounts(t.db)).toEqual(before);
    },
  );

  it.each(["false", "0"])("creates with validate_only=%s", async (value) => {
    const response = await t.post(`/v1/experiments?validate_only=${value}`, tinySpec());
    expect(response.status).toBe(201);
  });

  it("reads the Idempotency-Key header in any case", async () => {
    const first = await t.post("/v1/experiments", tinySpec(), { "Idempotency-Key": "case-1" });
    const second = await t.post("/v1/experiments", tinySpec(), { "IDEMPOTENCY-KEY": "case-1" });
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect((await read<Experiment>(second)).id).toBe((await read<Experiment>(first)).id);
  });

  it("replays the first answer for the same Idempotency-Key and body", async () => {
    const first = await t.post("/v1/experiments", tinySpec(), { "idempotency-key": "k-1" });
    const second = await t.post("/v1/experiments", tinySpec(), { "idempotency-key": "k-1" });
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect(await second.json()).toEqual(await first.json());
    expect((await tableCounts(t.db)).experiments).toBe(1);
  });

  it("refuses a reused Idempotency-Key with a different body (422) and one still in flight (409)", async () => {
    await t.post("/v1/experiments", tinySpec(), { "idempotency-key": "k-2" });
    const before = await tableCounts(t.db);
    const other = await t.post("/v1/experiments", tinySpec({ name: "other" }), { "idempotency-key": "k-2" });
    await expectProblem(other, 422, "idempotency_key_mismatch");

    // Keys are stored under the project's scope.
    await t.db.insert(idempotencyKeys).values({
      key: "default:k-3",
      fingerprint: "x",
      state: "in_flight",
      createdAt: 0,
      expiresAt: Date.parse("2030-01-01T00:00:00Z"),
    });
    const inFlight = await t.post("/v1/experiments", tinySpec(), { "idempotency-key": "k-3" });
    await expectProblem(inFlight, 409, "idempotency_key_in_use");
    expect(await tableCounts(t.db)).toEqual({
      ...before,
      idempotencyKeys: (before.idempotencyKeys ?? 0) + 1,
    });
  });

  it("lets a key be reused once it has expired", async () => {
    await t.post("/v1/experiments", tinySpec(), { "idempotency-key": "k-4" });
    t.advance(2 * 3_600_000);
    const fresh = await t.post("/v1/experiments", tinySpec({ name: "later" }), { "idempotency-key": "k-4" });
    expect(fresh.status).toBe(201);
    expect((await read<Experiment>(fresh)).name).toBe("later");
  });
});

describe.each([
  {
    case: "an empty name, an unknown dataset and an unknown field",
    body: { name: "", dataset: { name: "svhn" }, colour: "red" },
    errors: [
      { location: "body", path: "name", message: "Too small: expected string to have >=1 characters" },
      {
        location: "body",
        path: "dataset.name",
        message: 'Invalid option: expected one of "mnist"|"fashion-mnist"|"cifar10"',
      },
      { location: "body", path: "colour", message: "unknown field" },
    ],
  },
  {
    case: "a learning rate above 1",
    body: tinySpec({ training: { lr: 2 } }),
    errors: [{ location: "body", path: "training.lr", message: "Too big: expected number to be <=1" }],
  },
  {
    case: "repeated seeds",
    body: tinySpec({ seeds: [1, 1] }),
    errors: [{ location: "body", path: "seeds", message: "seeds must be distinct" }],
  },
  {
    case: "an arm kind that does not exist",
    body: tinySpec({ arms: [{ arm: "warp" }] }),
    errors: [
      {
        location: "body",
        path: "arms.0.arm",
        message: expect.stringMatching(/^Invalid discriminator value/),
      },
    ],
  },
  {
    case: "no arms",
    body: tinySpec({ arms: [] }),
    errors: [{ location: "body", path: "arms", message: "Too small: expected array to have >=1 items" }],
  },
  {
    case: "a body that is not an object",
    body: "[1, 2]",
    errors: [{ location: "body", path: "", message: "Invalid input: expected object, received array" }],
  },
])("POST /v1/experiments with $case", ({ body, errors }) => {
  it("answers 422 naming each bad field and writes nothing", async () => {
    const before = await tableCounts(t.db);
    const response = await t.post("/v1/experiments", body, { "idempotency-key": "bad-1" });
    const problem = await expectProblem(response, 422, "validation_failed");
    expect(problem).toEqual({
      type: "urn:autoprog:problem:validation_failed",
      title: "The request is not valid",
      status: 422,
      detail: "the body is not valid",
      instance: "/v1/experiments",
      code: "validation_failed",
      requestId: response.headers.get("x-request-id"),
      errors,
    });
    expect(await tableCounts(t.db)).toEqual(before);
  });
});

describe("bad requests outside the body", () => {
  it.each([
    {
      case: "validate_only=maybe",
      path: "/v1/experiments?validate_only=maybe",
      headers: {} as Record<string, string>,
      error: { location: "query", path: "validate_only" },
    },
    {
      case: "an Idempotency-Key over 255 characters",
      path: "/v1/experiments",
      headers: { "idempotency-key": "k".repeat(256) },
      error: { location: "header", path: "Idempotency-Key" },
    },
  ])("answers 422 for $case and writes nothing", async ({ path, headers, error }) => {
    const before = await tableCounts(t.db);
    const response = await t.post(path, tinySpec(), headers);
    const problem = await expectProblem(response, 422, "validation_failed");
    expect(problem.errors).toEqual([{ ...error, message: expect.any(String) }]);
    expect(await tableCounts(t.db)).toEqual(before);
  });

  it("answers 400 for malformed JSON and writes nothing", async () => {
    const before = await tableCounts(t.db);
    const response = await t.post("/v1/experiments", "{not json");
    const problem = await expectProblem(response, 400, "malformed_request");
    expect(problem).toEqual({
      type: "urn:autoprog:problem:malformed_request",
      title: "The request could not be read",
      status: 400,
      detail: "Malformed JSON in request body",
      instance: "/v1/experiments",
      code: "malformed_request",
      requestId: response.headers.get("x-request-id"),
    });
    expect(await tableCounts(t.db)).toEqual(before);
  });
});

describe("GET /v1/experiments", () => {
  it("pages newest first with an opaque cursor", async () => {
    const ids: string[] = [];
    for (const name of ["a", "b", "c"]) {
      t.advance(1);
      ids.push((await read<Experiment>(t.post("/v1/experiments", tinySpec({ name })))).id);
    }
    const first = await read<ExperimentPage>(t.app.request("/v1/experiments?limit=2"));
    expect(first.items.map((e) => e.name)).toEqual(["c", "b"]);
    expect(first.items[0]?.runCounts).toEqual({
      total: 1,
      queued: 1,
      running: 0,
      paused: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    });
    expect(first.items[0]).not.toHaveProperty("runs");
    const second = await read<ExperimentPage>(
      t.app.request(`/v1/experiments?limit=2&cursor=${first.nextCursor}`),
    );
    expect(second.items.map((e) => e.id)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeNull();
  });

  it.each(["cursor=%%%", "cursor=bm9wZQ", "limit=0", "limit=101", "limit=x"])(
    "rejects %s with 422",
    async (query) => {
      const response = await t.app.request(`/v1/experiments?${query}`);
      const problem = await expectProblem(response, 422, "validation_failed");
      expect((problem.errors as { location: string }[])[0]?.location).toBe("query");
    },
  );
});

describe("GET /v1/experiments/{id}/runs", () => {
  it("pages the runs apart, in spec order, and the list counts them by state", async () => {
    const created = await read<Experiment>(t.post("/v1/experiments", twoSeeds));
    const run = await claimForTest(t.db);
    if (!run) throw new Error("no run");
    await t.sink.record(run.id, run.attempt, runStarted(), null);
    const first = await read<RunPage>(t.app.request(`/v1/experiments/${created.id}/runs?limit=3`));
    expect(first.items.map((r) => `${r.label}/${r.seed}`)).toEqual(["original/0", "original/1", "prog/0"]);
    const second = await read<RunPage>(
      t.app.request(`/v1/experiments/${created.id}/runs?limit=3&cursor=${first.nextCursor}`),
    );
    expect(second.items.map((r) => `${r.label}/${r.seed}`)).toEqual(["prog/1"]);
    expect(second.nextCursor).toBeNull();
    const list = await read<ExperimentPage>(t.app.request("/v1/experiments"));
    expect(list.items[0]?.runCounts).toMatchObject({ total: 4, queued: 3, running: 1 });
  });
});

describe("DELETE /v1/experiments/{id}", () => {
  it("cancels its live runs, removes its rows and asks for its runs' files to go", async () => {
    const created = await read<Experiment>(t.post("/v1/experiments", twoSeeds));
    const running = await claimForTest(t.db);
    if (!running) throw new Error("no run");
    for (const event of [runStarted(), epochCompleted(0), runCompleted()])
      await t.sink.record(running.id, running.attempt, event, null);
    t.advance(1);
    const kept = await read<Experiment>(t.post("/v1/experiments", tinySpec({ name: "kept" })));
    const response = await t.app.request(`/v1/experiments/${created.id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect((await t.app.request(`/v1/experiments/${created.id}`)).status).toBe(404);
    expect((await t.app.request(`/v1/runs/${running.id}`)).status).toBe(404);
    expect(t.removedArtifacts.sort()).toEqual(created.runs.map((r) => r.id).sort());
    // Only the other experiment's rows are left.
    const left = await tableCounts(t.db);
    expect(left).toMatchObject({
      experiments: 1,
      runs: kept.runs.length,
      runEvents: 0,
      metricPoints: 0,
    });
    await expectProblem(
      await t.app.request(`/v1/experiments/${created.id}`, { method: "DELETE" }),
      404,
      "not_found",
    );
  });
});

describe("unknown ids", () => {
  it.each([
    "/v1/experiments/exp_missing",
    "/v1/experiments/exp_missing/report",
    "/v1/experiments/exp_missing/runs",
  ])("%s is a 404 problem", async (path) => {
    const response = await t.app.request(path);
    const problem = await expectProblem(response, 404, "not_found");
    expect(problem.detail).toBe("no experiment exp_missing");
    expect(problem.instance).toBe(path);
  });

  it("an unknown route is a 404 problem too", async () => {
    await expectProblem(await t.app.request("/v2/nothing"), 404, "not_found");
  });
});
