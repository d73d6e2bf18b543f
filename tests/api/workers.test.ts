import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readEvents } from "../../db/events.ts";
import { getRun } from "../../db/runs.ts";
import { packCheckpoint } from "../../src/checkpoints/wire.ts";
import { checkpointSaved, epochCompleted, runCompleted, runStarted } from "../../support/fixtures.ts";
import { ADMIN_KEY, expectProblem, read, type TestApp, testApp, tinySpec, WORKER } from "./helpers.ts";

type Grant = {
  run: { id: string; experimentId: string; attempt: number; arm: string; seed: number };
  spec: { name: string };
  checkpoint: { epoch: number; url: string } | null;
  lease: { token: string; expiresAt: string; seconds: number };
};

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

const asWorker = (path: string, body: unknown, headers: Record<string, string> = WORKER) =>
  t.post(path, body, headers);

async function submit(headers: Record<string, string> = {}, name = "tiny") {
  const response = await t.post("/v1/experiments", tinySpec({ name, seeds: [0, 1] }), headers);
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; runs: { id: string }[] };
}

async function lease(wait = 0): Promise<Grant> {
  const response = await asWorker("/v1/workers/lease", { worker: "w1", wait });
  expect(response.status).toBe(200);
  return (await response.json()) as Grant;
}

const packed = (epoch: number, data = [1, 2, 3, 4]) =>
  packCheckpoint({
    meta: new TextEncoder().encode(JSON.stringify({ epoch, format: "test" })),
    data: new Uint8Array(data),
  });

const putCheckpoint = (runId: string, epoch: number, token: string, body: Uint8Array) =>
  t.app.request(`/v1/runs/${runId}/checkpoints/${epoch}`, {
    method: "PUT",
    headers: { ...WORKER, "autoprog-lease-token": token, "content-type": "application/octet-stream" },
    body,
  });

const getCheckpoint = (path: string, token: string) =>
  t.app.request(path, { headers: { ...WORKER, "autoprog-lease-token": token } });

describe("POST /v1/workers/lease", () => {
  it("leases the oldest queued run of the worker's project only, then answers 204", async () => {
    const other = await t.keyFor("other", "member");
    const elsewhere = await submit(other.headers, "elsewhere");
    const mine = await submit();
    const first = await lease();
    expect(first).toMatchObject({
      run: { id: mine.runs[0]?.id, experimentId: mine.id, attempt: 1, seed: 0 },
      spec: { name: "tiny" },
      checkpoint: null,
      lease: { seconds: 60 },
    });
    expect(first.lease.token).toMatch(/^lt_[\w-]{20,}$/);
    expect((await lease()).run.id).toBe(mine.runs[1]?.id);
    expect((await asWorker("/v1/workers/lease", { worker: "w1" })).status).toBe(204);
    const row = await getRun(t.db, mine.runs[0]?.id as string);
    expect(row).toMatchObject({ state: "running", attempt: 1, leaseOwner: first.lease.token });
    // The other project's worker gets the other project's run.
    const otherWorker = await t.keyFor("other", "worker");
    const theirs = await read<Grant>(asWorker("/v1/workers/lease", { worker: "w2" }, otherWorker.headers));
    expect(theirs.run.id).toBe(elsewhere.runs[0]?.id);
  });

  it("waits up to `wait` seconds for a run, then answers 204", async () => {
    const response = await asWorker("/v1/workers/lease", { worker: "w1", wait: 1 });
    expect(response.status).toBe(204);
  });

  it("names each bad field with 422", async () => {
    const body = await expectProblem(
      await asWorker("/v1/workers/lease", { wait: 31 }),
      422,
      "validation_failed",
    );
    expect((body.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(["wait", "worker"]);
  });
});

describe("who may call the worker protocol", () => {
  it("only worker keys: members and admins get 403, no key 401, and worker keys nothing else", async () => {
    const experiment = await submit();
    const runId = experiment.runs[0]?.id as string;
    const calls: [string, string][] = [
      ["POST", "/v1/workers/lease"],
      ["POST", "/v1/workers/heartbeat"],
      ["POST", "/v1/workers/release"],
      ["POST", `/v1/runs/${runId}/events`],
      ["PUT", `/v1/runs/${runId}/checkpoints/1`],
      // GET of a checkpoint is members' too (tests/api/model.test.ts).
    ];
    for (const [method, path] of calls) {
      for (const key of ["member", ADMIN_KEY]) {
        const headers: Record<string, string> = key === "member" ? {} : { authorization: `Bearer ${key}` };
        const response = await t.app.request(path, { method, headers });
        await expectProblem(response, 403, "forbidden");
      }
      await expectProblem(await t.raw.request(path, { method }), 401, "unauthenticated");
    }
    for (const path of ["/v1/experiments", `/v1/runs/${runId}`, `/v1/runs/${runId}/events`]) {
      const body = await expectProblem(await t.app.request(path, { headers: WORKER }), 403, "forbidden");
      expect(body.detail).toContain("reserved for pull workers");
    }
  });
});

describe("POST /v1/workers/heartbeat", () => {
  it("says continue, then cancel once the run is cancelled, and 409 to another token", async () => {
    await submit();
    const grant = await lease();
    const beat = { runId: grant.run.id, token: grant.lease.token };
    expect(await read(asWorker("/v1/workers/heartbeat", beat))).toMatchObject({ action: "continue" });
    expect((await t.post(`/v1/runs/${grant.run.id}/cancel`, "")).status).toBe(202);
    expect(await read(asWorker("/v1/workers/heartbeat", beat))).toMatchObject({ action: "cancel" });
    await expectProblem(
      await asWorker("/v1/workers/heartbeat", { ...beat, token: "lt_someone-else" }),
      409,
      "lease_lost",
    );
  });

  it("says pause once the run is paused; run.paused ends the lease, and the next lease's start is stored", async () => {
    await submit();
    const grant = await lease();
    const runId = grant.run.id;
    const beat = { runId, token: grant.lease.token };
    expect((await t.post(`/v1/runs/${runId}/pause`, "")).status).toBe(202);
    expect(await read(asWorker("/v1/workers/heartbeat", beat))).toMatchObject({ action: "pause" });
    const path = `/v1/runs/${runId}/events`;
    const paused = [
      { seq: 0, event: runStarted(0, 2), replayKey: null },
      { seq: 1, event: { type: "run.paused", epoch: 0, step: 3 }, replayKey: null },
    ];
    const answer = { accepted: 2, duplicates: 0, action: "pause" };
    expect(await read(asWorker(path, { token: grant.lease.token, events: paused }))).toEqual(answer);
    // The attempt is given back; nothing was pruned (the checkpoints are where it resumes).
    expect(await getRun(t.db, runId)).toMatchObject({ state: "paused", attempt: 0, leaseOwner: null });
    expect(t.finishedRuns).toEqual([]);
    await expectProblem(await asWorker("/v1/workers/heartbeat", beat), 409, "lease_lost");
    expect((await t.post(`/v1/runs/${runId}/resume`, "")).status).toBe(200);
    const second = await lease();
    expect(second.run).toMatchObject({ id: runId, attempt: 1 });
    // Same attempt number as the paused lease: its start is a new fact all the same.
    const started = {
      token: second.lease.token,
      events: [{ seq: 0, event: runStarted(0, 2), replayKey: null }],
    };
    expect(await read(asWorker(path, started))).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(await read(asWorker(path, started))).toMatchObject({ accepted: 0, duplicates: 1 });
    const stored = await readEvents(t.db, runId, 0, 100);
    expect(stored.map((e) => e.type)).toEqual(["run.started", "run.paused", "run.resumed", "run.started"]);
  });

  it("is 409 lease_lost once the lease expired and the sweep re-queued the run", async () => {
    await submit();
    const grant = await lease();
    t.advance(61_000);
    await t.dispatcher.sweep();
    const response = await asWorker("/v1/workers/heartbeat", {
      runId: grant.run.id,
      token: grant.lease.token,
    });
    await expectProblem(response, 409, "lease_lost");
    expect(await getRun(t.db, grant.run.id)).toMatchObject({ state: "queued", attempt: 1 });
  });

  it("is 404 for another project's run", async () => {
    await submit();
    const grant = await lease();
    const otherWorker = await t.keyFor("other", "worker");
    const response = await asWorker(
      "/v1/workers/heartbeat",
      { runId: grant.run.id, token: grant.lease.token },
      otherWorker.headers,
    );
    await expectProblem(response, 404, "not_found");
  });
});

describe("POST /v1/runs/{id}/events", () => {
  it("stores a batch once however often it is sent, gap-free, and extends the lease", async () => {
    await submit();
    const grant = await lease();
    const batch = {
      token: grant.lease.token,
      events: [
        { seq: 0, event: runStarted(0, 2), replayKey: null },
        { seq: 1, event: epochCompleted(0), replayKey: "epoch.completed@0#0" },
        { seq: 2, event: checkpointSaved(1), replayKey: "checkpoint.saved@1#0" },
      ],
    };
    t.advance(30_000);
    const path = `/v1/runs/${grant.run.id}/events`;
    expect(await read(asWorker(path, batch))).toEqual({ accepted: 3, duplicates: 0, action: "continue" });
    expect(await read(asWorker(path, batch))).toEqual({ accepted: 0, duplicates: 3, action: "continue" });
    const stored = await readEvents(t.db, grant.run.id, 0, 100);
    expect(stored.map((e) => [e.seq, e.type, e.attempt])).toEqual([
      [1, "run.started", 1],
      [2, "epoch.completed", 1],
      [3, "checkpoint.saved", 1],
    ]);
    // The worker's own path is replaced by where this server keeps the checkpoint.
    expect(JSON.parse(stored[2]?.payload ?? "{}").location).toBe(
      `runs/${grant.run.id}/checkpoints/epoch-0001.json`,
    );
    const row = await getRun(t.db, grant.run.id);
    expect(row).toMatchObject({ checkpointEpoch: 1, lastSeq: 3 });
    expect(row?.leaseExpiresAt).toBe(Date.parse("2026-01-01T00:00:00Z") + 30_000 + 60_000);
  });

  it("ends the run on a terminal event; the token then holds nothing", async () => {
    await submit();
    const grant = await lease();
    const path = `/v1/runs/${grant.run.id}/events`;
    const events = [
      { seq: 0, event: runStarted(0, 2), replayKey: null },
      { seq: 1, event: runCompleted(), replayKey: "run.completed@2#0" },
    ];
    expect(await read(asWorker(path, { token: grant.lease.token, events }))).toMatchObject({ accepted: 2 });
    expect(await getRun(t.db, grant.run.id)).toMatchObject({ state: "completed" });
    expect(t.finishedRuns).toEqual([grant.run.id]);
    await expectProblem(
      await asWorker("/v1/workers/heartbeat", { runId: grant.run.id, token: grant.lease.token }),
      409,
      "lease_lost",
    );
  });

  it("refuses another token with 409 and a bad event with 422 naming the field, storing nothing", async () => {
    await submit();
    const grant = await lease();
    const path = `/v1/runs/${grant.run.id}/events`;
    const events = [{ seq: 0, event: epochCompleted(0), replayKey: "epoch.completed@0#0" }];
    await expectProblem(await asWorker(path, { token: "lt_not-mine", events }), 409, "lease_lost");
    const bad = await expectProblem(
      await asWorker(path, { token: grant.lease.token, events: [{ ...events[0], seq: -1 }] }),
      422,
      "validation_failed",
    );
    expect((bad.errors as { path: string }[]).map((e) => e.path)).toEqual(["events.0.seq"]);
    expect(await readEvents(t.db, grant.run.id, 0, 100)).toEqual([]);
  });
});

describe("PUT and GET /v1/runs/{id}/checkpoints/{epoch}", () => {
  it("round-trips a checkpoint for the lease holder only", async () => {
    await submit();
    const grant = await lease();
    const body = packed(1);
    expect((await putCheckpoint(grant.run.id, 1, grant.lease.token, body)).status).toBe(204);
    const path = `/v1/runs/${grant.run.id}/checkpoints/1`;
    const fetched = await getCheckpoint(path, grant.lease.token);
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(body);
    await expectProblem(await getCheckpoint(path, "lt_not-mine"), 409, "lease_lost");
    await expectProblem(await putCheckpoint(grant.run.id, 1, "lt_not-mine", body), 409, "lease_lost");
    await expectProblem(
      await getCheckpoint(`/v1/runs/${grant.run.id}/checkpoints/2`, grant.lease.token),
      404,
      "not_found",
    );
  });

  it("refuses a body over the ceiling (413), not a checkpoint or of another epoch (422), no token (422)", async () => {
    await submit();
    const grant = await lease();
    const { token } = grant.lease;
    await expectProblem(
      await putCheckpoint(grant.run.id, 1, token, packed(1, new Array(1024 * 1024).fill(7))),
      413,
      "payload_too_large",
    );
    const notOne = await expectProblem(
      await putCheckpoint(grant.run.id, 1, token, new Uint8Array([1, 2, 3])),
      422,
      "validation_failed",
    );
    expect(notOne.errors).toEqual([{ location: "body", path: "", message: expect.stringContaining("APC1") }]);
    await expectProblem(await putCheckpoint(grant.run.id, 2, token, packed(1)), 422, "validation_failed");
    const noToken = await t.app.request(`/v1/runs/${grant.run.id}/checkpoints/1`, { headers: WORKER });
    const body = await expectProblem(noToken, 422, "validation_failed");
    expect(body.errors).toMatchObject([{ location: "header", path: "autoprog-lease-token" }]);
    expect(t.checkpoints.blobs.size).toBe(0);
  });

  it("answers 503 where no checkpoint store is bound", async () => {
    t.close();
    t = testApp({ workers: { checkpoints: null } });
    await submit();
    const grant = await lease();
    await expectProblem(
      await putCheckpoint(grant.run.id, 1, grant.lease.token, packed(1)),
      503,
      "checkpoint_store_unavailable",
    );
  });
});

describe("a lease that expires", () => {
  it("is re-queued by the sweep with the attempt counted; the next lease resumes from the checkpoint", async () => {
    await submit();
    const first = await lease();
    const runId = first.run.id;
    expect((await putCheckpoint(runId, 1, first.lease.token, packed(1))).status).toBe(204);
    const events = [
      { seq: 0, event: runStarted(0, 2), replayKey: null },
      { seq: 1, event: checkpointSaved(1), replayKey: "checkpoint.saved@1#0" },
    ];
    await asWorker(`/v1/runs/${runId}/events`, { token: first.lease.token, events });
    t.advance(61_000);
    await t.dispatcher.sweep();
    const second = await lease();
    expect(second).toMatchObject({
      run: { id: runId, attempt: 2 },
      checkpoint: { epoch: 1, url: `/v1/runs/${runId}/checkpoints/1` },
    });
    const fetched = await getCheckpoint(second.checkpoint?.url as string, second.lease.token);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(packed(1));
    // The first attempt's token is worth nothing now; its start is not the second's.
    await expectProblem(
      await getCheckpoint(second.checkpoint?.url as string, first.lease.token),
      409,
      "lease_lost",
    );
    const restart = [{ seq: 0, event: runStarted(1, 2), replayKey: null }];
    expect(
      await read(asWorker(`/v1/runs/${runId}/events`, { token: second.lease.token, events: restart })),
    ).toMatchObject({
      accepted: 1,
    });
    const stored = await readEvents(t.db, runId, 0, 100);
    expect(stored.map((e) => [e.type, e.attempt])).toEqual([
      ["run.started", 1],
      ["checkpoint.saved", 1],
      ["run.started", 2],
    ]);
  });
});

describe("POST /v1/workers/release", () => {
  it("hands the run back without using an attempt", async () => {
    await submit();
    const grant = await lease();
    const body = { runId: grant.run.id, token: grant.lease.token };
    expect(await read(asWorker("/v1/workers/release", body))).toEqual({ released: true });
    expect(await getRun(t.db, grant.run.id)).toMatchObject({ state: "queued", attempt: 0, leaseOwner: null });
    expect(await read(asWorker("/v1/workers/release", body))).toEqual({ released: false });
  });
});
