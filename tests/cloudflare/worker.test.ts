import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { type Request as MiniflareRequest, Response as MiniflareResponse } from "miniflare";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkpointSaved,
  epochCompleted,
  runCompleted,
  runStarted,
  tinySpec,
} from "../../support/fixtures.ts";
import {
  BUNDLE,
  type BuildOutput,
  buildWorker,
  migratedDatabase,
  type RunningWorker,
  readUntilEnd,
  startWorker,
} from "./harness.ts";

/**
 * The Workers deployment, built by wrangler and run in workerd over a local D1: the bundle stays
 * free of the trainer, the first admin key comes from the secret, and the API works end to end
 * (nothing trains here: runs stay queued for pull workers).
 */
const BOOTSTRAP_KEY = `ap_${"cloudflare-bootstrap-".padEnd(43, "k")}`;
/** Workers' limit for a compressed Worker on the free plan. */
const FREE_PLAN_LIMIT_BYTES = 3 * 1024 * 1024;

let build: BuildOutput;
let worker: RunningWorker;
/** The Worker's outbound fetches (webhook deliveries), as this process received them. */
const outbound: { url: string; headers: Headers; body: string }[] = [];

async function receive(request: MiniflareRequest) {
  outbound.push({ url: request.url, headers: new Headers([...request.headers]), body: await request.text() });
  return new MiniflareResponse(null, { status: 204 });
}

beforeAll(async () => {
  // The two wrangler commands are independent: build and migrate at once.
  const [built, database] = await Promise.all([buildWorker(), migratedDatabase()]);
  build = built;
  expect(database.log).toContain("0004_webhooks.sql");
  expect(database.log).toContain("0006_tags_notes_cancelled.sql");
  // The first start has no secret: the operator has not set it yet.
  worker = await startWorker({ persistTo: database.persistTo, outbound: receive });
  // Two wrangler processes and workerd's start: minutes on a loaded two-core machine.
}, 600_000);

afterAll(async () => {
  await worker?.stop();
});

describe("the wrangler bundle (npm run cf:build)", () => {
  it("builds without warnings", () => {
    expect(build.log).toContain("--dry-run: exiting now.");
    expect(build.log).not.toMatch(/WARNING|\[warn/i);
  });

  it("holds no tfjs, better-sqlite3 or worker_threads and fits the free plan's compressed limit", async () => {
    const code = await readFile(BUNDLE);
    const text = code.toString("utf8");
    expect(text).toContain("run_events");
    expect(text).not.toContain("@tensorflow");
    expect(text).not.toContain("better-sqlite3");
    expect(text).not.toContain("worker_threads");
    expect(gzipSync(code).length).toBeLessThan(FREE_PLAN_LIMIT_BYTES);
  });
});

describe("the Worker in workerd over a local D1", () => {
  it("answers 503 not_bootstrapped until the bootstrap secret is set, then takes it as the operator key", async () => {
    const health = await worker.fetch("/healthz");
    expect(health.status).toBe(200);
    const early = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/experiments");
    expect(early.status).toBe(503);
    expect(await early.json()).toMatchObject({
      code: "not_bootstrapped",
      detail: expect.stringContaining("AUTOPROG_BOOTSTRAP_KEY"),
    });

    await worker.restart({ bootstrapKey: BOOTSTRAP_KEY });
    const keys = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/keys");
    expect(keys.status).toBe(200);
    const [bootstrap] = ((await keys.json()) as { items: { id: string }[] }).items;
    expect(bootstrap).toMatchObject({ project: "default", role: "operator", name: "bootstrap" });
    // The operator creates a project's admin; that admin reaches its own project's keys only (on D1).
    const created = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/keys", {
      method: "POST",
      json: { project: "team-b", role: "admin", name: "b" },
    });
    expect(created.status).toBe(201);
    const adminB = (await created.json()) as { id: string; key: string };
    const revoke = await worker.fetchWithKey(adminB.key, `/v1/keys/${bootstrap?.id}`, { method: "DELETE" });
    expect(revoke.status).toBe(404);
    const takeover = await worker.fetchWithKey(adminB.key, "/v1/keys", {
      method: "POST",
      json: { project: "default", role: "admin", name: "takeover" },
    });
    expect(takeover.status).toBe(403);
    // team-b's only admin key: the count is per project (the operator key is not one of them).
    const last = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/keys/${adminB.id}`, { method: "DELETE" });
    expect(last.status).toBe(409);
    // Without a key the API stays closed.
    const anonymous = await worker.fetch("/v1/experiments");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="autoprog"');
  });

  it("takes an experiment, keeps its runs queued, reports on them and cancels one", async () => {
    const created = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/experiments", {
      method: "POST",
      json: tinySpec({
        arms: [{ arm: "original" }, { arm: "prog" }],
        training: { epochs: 2, stages: 2, batchSize: 32, warmupEpochs: 0 },
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const experiment = (await created.json()) as { id: string; runs: { id: string; state: string }[] };
    expect(experiment.runs.map((r) => r.state)).toEqual(["queued", "queued"]);

    const runs = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/experiments/${experiment.id}/runs`);
    expect(((await runs.json()) as { items: { state: string }[] }).items.map((r) => r.state)).toEqual([
      "queued",
      "queued",
    ]);

    const report = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/experiments/${experiment.id}/report`);
    expect(report.status).toBe(200);
    expect(await report.json()).toMatchObject({
      experimentId: experiment.id,
      finished: false,
      arms: [
        { arm: "original", completed: 0 },
        { arm: "prog", completed: 0 },
      ],
    });

    const runId = experiment.runs[0]?.id ?? "";
    const cancelled = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs/${runId}/cancel`, {
      method: "POST",
    });
    expect(cancelled.status).toBe(202);
    const run = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs/${runId}`);
    expect(await run.json()).toMatchObject({ id: runId, state: "cancelled" });

    // The stored events replay over SSE, then `end` closes the stream of the finished run.
    const stream = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs/${runId}/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const messages = await readUntilEnd(stream);
    expect(messages.map((m) => [m.id, m.event])).toEqual([
      ["1", "run.failed"],
      [undefined, "end"],
    ]);
    expect(JSON.parse(messages[0]?.data ?? "{}")).toMatchObject({ type: "run.failed", reason: "cancelled" });
    expect(JSON.parse(messages[1]?.data ?? "{}")).toEqual({ state: "cancelled", lastSeq: 1 });
  });

  it("lists runs across experiments with filters, and finds them by the tags and note a PATCH set (D1's JSON functions)", async () => {
    const created = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/experiments", {
      method: "POST",
      json: tinySpec({ name: "d1 search", seeds: [0, 1] }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const experiment = (await created.json()) as { id: string; runs: { id: string }[] };
    const [first, second] = experiment.runs.map((r) => r.id);
    const patched = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs/${second}`, {
      method: "PATCH",
      json: { tags: ["keep", "d1"], note: "50% of the budget" },
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect(await patched.json()).toMatchObject({
      id: second,
      tags: ["keep", "d1"],
      note: "50% of the budget",
    });

    const list = async (query: string) => {
      const response = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs?${query}`);
      expect(response.status, await response.clone().text()).toBe(200);
      return ((await response.json()) as { items: { id: string }[] }).items.map((r) => r.id);
    };
    expect(await list(`experiment=${experiment.id}&sort=createdAt`)).toEqual([first, second]);
    expect(await list("tag=keep,d1&state=queued")).toEqual([second]);
    expect(await list("q=50%25")).toEqual([second]);
    expect(await list("q=5_%25")).toEqual([]);
    const unknown = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/runs?stat=queued");
    expect(unknown.status).toBe(422);
    expect(await unknown.json()).toMatchObject({ errors: [{ location: "query", path: "stat" }] });
    // Leaves no queued run for the pull-worker test below to lease first.
    const removed = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/experiments/${experiment.id}`, {
      method: "DELETE",
    });
    expect(removed.status).toBe(204);
  });

  it("serves a pull worker: lease, a batch of events (retried without duplicates), the report", async () => {
    const keyResponse = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/keys", {
      method: "POST",
      json: { project: "default", name: "gpu-1", role: "worker" },
    });
    expect(keyResponse.status, await keyResponse.clone().text()).toBe(201);
    const workerKey = ((await keyResponse.json()) as { key: string }).key;
    const created = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/experiments", {
      method: "POST",
      json: tinySpec({ name: "pulled", arms: [{ arm: "original" }], training: { epochs: 1 } }),
    });
    expect(created.status).toBe(201);
    const experiment = (await created.json()) as { id: string; runs: { id: string }[] };
    const runId = experiment.runs[0]?.id ?? "";
    // The project's queue on D1: this run is the newest, the last position.
    const queue = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/queue?limit=1");
    expect(queue.status, await queue.clone().text()).toBe(200);
    const first = (await queue.json()) as {
      queued: number;
      items: { position: number }[];
      nextCursor: string;
    };
    expect(first.items.map((i) => i.position)).toEqual([1]);
    const rest = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/queue?limit=100&cursor=${first.nextCursor}`);
    const items = ((await rest.json()) as { items: { position: number; runId: string }[] }).items;
    expect(items.at(-1)).toEqual(expect.objectContaining({ position: first.queued, runId }));

    // The test above left a queued run: the oldest is leased first, then this one.
    let grant: { run: { id: string; attempt: number }; lease: { token: string } } | undefined;
    for (let tries = 0; tries < 3; tries++) {
      const leased = await worker.fetchWithKey(workerKey, "/v1/workers/lease", {
        method: "POST",
        json: { worker: "gpu-1" },
      });
      expect(leased.status, await leased.clone().text()).toBe(200);
      grant = (await leased.json()) as typeof grant;
      if (grant?.run.id === runId) break;
    }
    expect(grant?.run.attempt).toBe(1);
    const token = grant?.lease.token ?? "";
    const batch = {
      token,
      events: [runStarted(0, 1), epochCompleted(0), checkpointSaved(1), runCompleted({ top1: 0.7 })].map(
        (event, seq) => ({ seq, event, replayKey: seq === 0 ? null : `${event.type}@0#0` }),
      ),
    };
    const posted = await worker.fetchWithKey(workerKey, `/v1/runs/${runId}/events`, {
      method: "POST",
      json: batch,
    });
    expect(posted.status, await posted.clone().text()).toBe(200);
    expect(await posted.json()).toMatchObject({ accepted: 4, duplicates: 0 });
    // A retry of the same batch (its answer lost) stores nothing twice.
    const retried = await worker.fetchWithKey(workerKey, `/v1/runs/${runId}/events`, {
      method: "POST",
      json: batch,
    });
    expect([200, 409]).toContain(retried.status);
    const run = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs/${runId}`);
    expect(await run.json()).toMatchObject({ id: runId, state: "completed" });
    const messages = await readUntilEnd(await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/runs/${runId}/events`));
    expect(messages.filter((m) => m.event !== "end").map((m) => [m.id, m.event])).toEqual([
      ["1", "run.started"],
      ["2", "epoch.completed"],
      ["3", "checkpoint.saved"],
      ["4", "run.completed"],
    ]);
    const report = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/experiments/${experiment.id}/report`);
    expect(await report.json()).toMatchObject({ finished: true, arms: [{ arm: "original", completed: 1 }] });
  });

  it("delivers due webhooks, signed, when the cron trigger runs", async () => {
    const created = await worker.fetchWithKey(BOOTSTRAP_KEY, "/v1/webhooks", {
      method: "POST",
      json: { url: "https://hooks.example.com/autoprog", events: ["webhook.test"] },
    });
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string; secret: string };
    const queued = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/webhooks/${endpoint.id}/test`, {
      method: "POST",
    });
    expect(queued.status).toBe(202);
    expect(outbound).toEqual([]);

    expect(await worker.scheduled()).toBe("ok");
    expect(outbound.map((o) => o.url)).toEqual(["https://hooks.example.com/autoprog"]);
    const [delivery] = outbound;
    const verified = new Webhook(endpoint.secret).verify(
      delivery?.body ?? "",
      Object.fromEntries(delivery?.headers ?? []),
    );
    expect(verified).toMatchObject({ type: "webhook.test", data: { webhookId: endpoint.id } });

    const deliveries = await worker.fetchWithKey(BOOTSTRAP_KEY, `/v1/webhooks/${endpoint.id}/deliveries`);
    expect(await deliveries.json()).toMatchObject({
      items: [{ type: "webhook.test", attempt: 1, status: 204 }],
    });
    // Nothing is due any more: a second pass sends nothing.
    expect(await worker.scheduled()).toBe("ok");
    expect(outbound).toHaveLength(1);
  });
});
