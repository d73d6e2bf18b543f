import { mkdtemp, readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createReceiver, type ReceivedMessage } from "../../examples/webhook-receiver.ts";
import { checkpointDataFile, runCheckpointsPath } from "../../src/core/checkpoint-layout.ts";
import {
  followEvents,
  getJson,
  SERVER_KEY,
  type ServerProcess,
  startServer,
} from "../../support/server-process.ts";
import { tinySpec } from "../api/helpers.ts";

/**
 * Pause and resume through the real server (trainer processes, SQLite on disk, SSE, a webhook
 * receiver): a run paused inside an epoch stops there with a checkpoint, spends no attempt, and
 * once resumed ends with the same bytes as the same spec trained without a stop.
 */
const servers: ServerProcess[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill();
  for (const close of closers.splice(0)) await close();
});

const EPOCHS = 3;
// 1024 images in batches of 16: 64 steps an epoch, so the pause lands well inside one.
const SPEC = tinySpec({
  name: "pause",
  dataset: { name: "mnist", trainLimit: 1024, testLimit: 64 },
  training: { epochs: EPOCHS, batchSize: 16, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 64 },
});

interface Run {
  id: string;
  state: string;
  attempt: number;
  pauseRequested: boolean;
  result: { top1: number; history: { trainLoss: number; trainAccuracy: number }[] } | null;
}

interface Row {
  seq: number;
  type: string;
  attempt: number;
  payload: string;
}

async function startReceiver() {
  const receiver = { url: "", messages: [] as ReceivedMessage[], secret: "whsec_AAAA" };
  const server = createReceiver({
    secret: () => receiver.secret,
    onMessage: (m) => receiver.messages.push(m),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

const post = (url: string) =>
  fetch(url, { method: "POST", headers: { authorization: `Bearer ${SERVER_KEY}` } });

async function submit(server: ServerProcess): Promise<string> {
  const created = await getJson<{ runs: { id: string }[] }>(`${server.url}/v1/experiments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(SPEC),
  });
  return created.runs[0]?.id as string;
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("pausing and resuming a run through the API", () => {
  it("pauses mid-epoch without spending an attempt, and resumes to byte-identical final weights", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-pause-"));
    const receiver = await startReceiver();
    const server = await startServer(dataDir, {
      AUTOPROG_KEEP_CHECKPOINTS: "10",
      AUTOPROG_WEBHOOK_ALLOW_PRIVATE: "true",
      AUTOPROG_WEBHOOK_TIME_SCALE: "0.001",
    });
    servers.push(server);
    const hook = await getJson<{ secret: string }>(`${server.url}/v1/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url, events: ["run.paused", "run.resumed"] }),
    });
    receiver.secret = hook.secret;

    const pausedId = await submit(server);
    // The end of epoch 0 is on record: pause inside epoch 1.
    await followEvents(`${server.url}/v1/runs/${pausedId}/events`, {
      stop: (messages) => messages.some((m) => m.event === "checkpoint.saved"),
    });
    const asked = await post(`${server.url}/v1/runs/${pausedId}/pause`);
    expect(asked.status).toBe(202);
    const askedRun = (await asked.json()) as Run;
    expect(askedRun.state === "paused" || askedRun.pauseRequested).toBe(true);
    const runUrl = `${server.url}/v1/runs/${pausedId}`;
    const paused = await waitFor(
      () => getJson<Run>(runUrl),
      (run) => run.state === "paused",
      "the pause",
    );
    // The attempt the pause interrupted is given back.
    expect(paused).toMatchObject({ state: "paused", attempt: 0, pauseRequested: false });
    // Pausing a paused run is harmless; resuming only works on a paused run.
    const again = await post(`${server.url}/v1/runs/${pausedId}/pause`);
    expect(again.status).toBe(202);
    expect(((await again.json()) as Run).state).toBe("paused");

    // The same spec, trained without a stop while the first run waits.
    const straightId = await submit(server);
    const straightStream = await followEvents(`${server.url}/v1/runs/${straightId}/events`);
    expect(straightStream.ended).toBe(true);
    const resumed = await post(`${server.url}/v1/runs/${pausedId}/resume`);
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as Run).state).toBe("queued");
    const notPaused = await post(`${server.url}/v1/runs/${pausedId}/resume`);
    expect(notPaused.status).toBe(409);
    expect(((await notPaused.json()) as { code: string }).code).toBe("run_not_paused");
    const stream = await followEvents(`${server.url}/v1/runs/${pausedId}/events`);
    expect(stream.ended).toBe(true);

    const [pausedRun, straightRun] = await Promise.all([
      getJson<Run>(runUrl),
      getJson<Run>(`${server.url}/v1/runs/${straightId}`),
    ]);
    expect(pausedRun).toMatchObject({ state: "completed", attempt: 1 });
    expect(straightRun).toMatchObject({ state: "completed", attempt: 1 });
    expect(pausedRun.result?.top1).toBe(straightRun.result?.top1);
    expect(pausedRun.result?.history.map((h) => [h.trainLoss, h.trainAccuracy])).toEqual(
      straightRun.result?.history.map((h) => [h.trainLoss, h.trainAccuracy]),
    );
    const finalWeights = (id: string) =>
      readFile(join(dataDir, runCheckpointsPath(id), checkpointDataFile(EPOCHS)));
    const [a, b] = await Promise.all([finalWeights(pausedId), finalWeights(straightId)]);
    expect(a.equals(b)).toBe(true);

    // The SSE stream shows the pause and the resume, in the log's order.
    const types = stream.messages.map((m) => m.event);
    const pausedAt = types.indexOf("run.paused");
    expect(pausedAt).toBeGreaterThan(0);
    expect(types[pausedAt - 1]).toBe("checkpoint.saved");
    expect(types[pausedAt + 1]).toBe("run.resumed");
    expect(types[pausedAt + 2]).toBe("run.started");

    // Both webhooks were delivered, signed.
    await waitFor(
      async () => receiver.messages.map((m) => m.type),
      (received) => received.includes("run.paused") && received.includes("run.resumed"),
      "the webhooks",
    );
    expect(receiver.messages.find((m) => m.type === "run.paused")?.data).toMatchObject({
      runId: pausedId,
      epoch: expect.any(Number),
      step: expect.any(Number),
    });

    // The log: gap-free, the pause inside an epoch with its checkpoint, no attempt.failed.
    expect(await server.stop()).toBe(0);
    const db = new Database(join(dataDir, "autoprog.sqlite"), { readonly: true });
    const rows = db
      .prepare("select seq, type, attempt, payload from run_events where run_id = ? order by seq")
      .all(pausedId) as Row[];
    db.close();
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.map((r) => r.type)).not.toContain("attempt.failed");
    const started = rows.filter((r) => r.type === "run.started").map((r) => JSON.parse(r.payload));
    const stepsPerEpoch = started[0].stepsPerEpoch as number;
    expect(stepsPerEpoch).toBe(64);
    const pauseEvent = JSON.parse(rows.find((r) => r.type === "run.paused")?.payload ?? "{}");
    expect(pauseEvent.epoch).toBeGreaterThanOrEqual(1);
    // Inside the epoch, not at its end.
    expect(pauseEvent.step % stepsPerEpoch).not.toBe(0);
    expect(started.map((s) => s.startEpoch)).toEqual([0, pauseEvent.epoch]);
    expect(rows.filter((r) => r.type === "run.started").map((r) => r.attempt)).toEqual([1, 1]);
    const epochs = rows.filter((r) => r.type === "epoch.completed").map((r) => JSON.parse(r.payload).epoch);
    expect(epochs).toEqual([0, 1, 2]);
    // Every checkpoint is on record: one per epoch and the pause's.
    const checkpoints = rows.filter((r) => r.type === "checkpoint.saved").map((r) => JSON.parse(r.payload));
    const expected = [
      ...Array.from({ length: EPOCHS }, (_, i) => [i + 1, (i + 1) * stepsPerEpoch]),
      [pauseEvent.epoch, pauseEvent.step],
    ].sort((x, y) => (x[1] ?? 0) - (y[1] ?? 0));
    expect(checkpoints.map((c) => [c.epoch, c.step])).toEqual(expected);
    expect(receiver.messages.find((m) => m.type === "run.paused")?.data).toMatchObject({
      epoch: pauseEvent.epoch,
      step: pauseEvent.step,
    });
  }, 300_000);
});
