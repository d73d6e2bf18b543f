import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { FAULT_VARIABLE } from "../../src/worker/fault-injection.ts";
import { type HealthRecord, pollHealth } from "../../support/health-poller.ts";
import { followEvents, getJson, type ServerProcess, startServer } from "../../support/server-process.ts";
import { tinySpec } from "../api/helpers.ts";

/**
 * Real faults in the trainer process (src/worker/fault-injection.ts): a native abort, an
 * out-of-memory style SIGKILL, a hang. Each ends that attempt only: the API answers /healthz
 * throughout, the run's log stays gap-free, and the run resumes from its checkpoint (or fails
 * with the reason once its attempts are spent).
 */
const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill();
});

const EPOCHS = 3;

interface Row {
  seq: number;
  type: string;
  attempt: number;
  payload: string;
}

async function trainWithFault(fault: string, env: Record<string, string> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "autoprog-fault-"));
  const server = await startServer(dataDir, { [FAULT_VARIABLE]: fault, ...env });
  servers.push(server);
  const created = await getJson<{ runs: { id: string }[] }>(`${server.url}/v1/experiments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      tinySpec({
        name: "fault",
        training: { epochs: EPOCHS, batchSize: 32, warmupEpochs: 0, evalBatchSize: 64 },
      }),
    ),
  });
  const runId = created.runs[0]?.id as string;
  const health = pollHealth(server.url);
  const stream = await followEvents(`${server.url}/v1/runs/${runId}/events`);
  const record = await health.stop();
  const run = await getJson<{
    state: string;
    attempt: number;
    failure: { reason: string; message: string } | null;
    lastSeq: number;
  }>(`${server.url}/v1/runs/${runId}`);
  expect(await server.stop()).toBe(0);
  const db = new Database(join(dataDir, "autoprog.sqlite"), { readonly: true });
  const rows = db
    .prepare("select seq, type, attempt, payload from run_events where run_id = ? order by seq")
    .all(runId) as Row[];
  db.close();
  return { stream, record, run, rows, logs: server.logs };
}

/** The API answered every probe, and probes kept coming while the run trained. */
function expectServedThroughout(record: HealthRecord) {
  expect(record.failures).toEqual([]);
  expect(record.answers.length).toBeGreaterThan(20);
}

function expectGapFree(rows: Row[], lastSeq: number) {
  expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
  expect(lastSeq).toBe(rows.length);
}

/** The first attempt faulted after its first checkpoint; the second resumed from it and finished. */
function expectResumed(rows: Row[], message: RegExp) {
  const failed = rows.filter((r) => r.type === "attempt.failed");
  expect(failed.map((r) => r.attempt)).toEqual([1]);
  expect(JSON.parse(failed[0]?.payload ?? "{}")).toMatchObject({
    reason: "error",
    message: expect.stringMatching(message),
  });
  const starts = rows
    .filter((r) => r.type === "run.started")
    .map((r) => [r.attempt, JSON.parse(r.payload).startEpoch]);
  expect(starts[0]).toEqual([1, 0]);
  expect(starts[1]?.[0]).toBe(2);
  expect(starts[1]?.[1]).toBeGreaterThanOrEqual(1);
  const epochs = rows.filter((r) => r.type === "epoch.completed").map((r) => JSON.parse(r.payload).epoch);
  expect(epochs).toEqual(Array.from({ length: EPOCHS }, (_, i) => i));
  expect(rows.at(-1)?.type).toBe("run.completed");
}

describe("a fault in the trainer process ends that attempt only", () => {
  it("process.abort(): the run resumes from its checkpoint on the next attempt", async () => {
    const { stream, record, run, rows } = await trainWithFault("abort:1");
    expect(stream.ended).toBe(true);
    expectServedThroughout(record);
    expect(run).toMatchObject({ state: "completed", attempt: 2 });
    expectGapFree(rows, run.lastSeq);
    expectResumed(rows, /SIGABRT/);
  });

  it("SIGKILL (as the out-of-memory killer sends): the run resumes from its checkpoint", async () => {
    const { record, run, rows } = await trainWithFault("kill:1");
    expectServedThroughout(record);
    expect(run).toMatchObject({ state: "completed", attempt: 2 });
    expectGapFree(rows, run.lastSeq);
    expectResumed(rows, /SIGKILL/);
  });

  it("a trainer that stops responding is killed after the silence allowed, and the run resumes", async () => {
    const { record, run, rows, logs } = await trainWithFault("hang:1", {
      AUTOPROG_TRAINER_SILENCE_SECONDS: "3",
    });
    expectServedThroughout(record);
    expect(run).toMatchObject({ state: "completed", attempt: 2 });
    expectGapFree(rows, run.lastSeq);
    expectResumed(rows, /sent nothing for 3 s/);
    expect(logs.some((line) => line.includes("the trainer stopped responding"))).toBe(true);
  });

  it("a trainer that aborts on every attempt fails the run with the reason once its attempts are spent", async () => {
    const { stream, record, run, rows } = await trainWithFault("abort", { AUTOPROG_MAX_ATTEMPTS: "2" });
    expect(stream.ended).toBe(true);
    expectServedThroughout(record);
    expect(run).toMatchObject({ state: "failed", attempt: 2, failure: { reason: "error" } });
    expect(run.failure?.message).toMatch(/SIGABRT/);
    expectGapFree(rows, run.lastSeq);
    const milestones = rows.filter((r) => ["run.started", "attempt.failed", "run.failed"].includes(r.type));
    expect(milestones.map((r) => [r.type, r.attempt])).toEqual([
      ["run.started", 1],
      ["attempt.failed", 1],
      ["run.started", 2],
      ["run.failed", 2],
    ]);
  });

  it("SIGTERM of the API stops a hung trainer (SIGKILL after the grace period) and hands its run back", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-fault-"));
    const server = await startServer(dataDir, {
      [FAULT_VARIABLE]: "hang",
      AUTOPROG_TRAINER_SILENCE_SECONDS: "600",
      AUTOPROG_TRAINER_GRACE_SECONDS: "1",
    });
    servers.push(server);
    const created = await getJson<{ runs: { id: string }[] }>(`${server.url}/v1/experiments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        tinySpec({ name: "hung", training: { epochs: EPOCHS, batchSize: 32, warmupEpochs: 0 } }),
      ),
    });
    const runId = created.runs[0]?.id as string;
    await followEvents(`${server.url}/v1/runs/${runId}/events`, {
      stop: (messages) => messages.some((m) => m.event === "checkpoint.saved"),
    });
    // The trainer blocks at its next step, deaf to SIGTERM's handler and to IPC.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const trainers = await processesWith(`AUTOPROG_DATA_DIR=${dataDir}`, server.child.pid as number);
    expect(trainers).toHaveLength(1);
    const began = Date.now();
    expect(await server.stop()).toBe(0);
    expect(Date.now() - began).toBeLessThan(30_000);
    expect(await processesWith(`AUTOPROG_DATA_DIR=${dataDir}`, server.child.pid as number)).toEqual([]);
    expect(server.logs.some((line) => line.includes("the trainer did not exit in time"))).toBe(true);
    const db = new Database(join(dataDir, "autoprog.sqlite"), { readonly: true });
    expect(db.prepare("select state, attempt from runs where id = ?").get(runId)).toEqual({
      state: "queued",
      attempt: 0,
    });
    db.close();
  });
});

/** Live processes (not zombies) other than `except` whose environment holds `entry` (Linux /proc). */
async function processesWith(entry: string, except: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === except || pid === process.pid) continue;
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");
      const state = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.[0];
      if (environ.includes(entry) && state !== "Z") found.push(pid);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}
