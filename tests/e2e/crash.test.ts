import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { followEvents, getJson, type ServerProcess, startServer } from "../../support/server-process.ts";
import { tinySpec } from "../api/helpers.ts";

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill();
});

const EPOCHS = 8;
/** Short leases, so the restarted server takes over the killed one's run quickly. */
const LEASE = { AUTOPROG_LEASE_SECONDS: "3" };

async function submit(url: string) {
  const spec = tinySpec({
    name: "crash",
    training: { epochs: EPOCHS, batchSize: 32, warmupEpochs: 0, evalBatchSize: 64 },
  });
  const created = await getJson<{ id: string; runs: { id: string }[] }>(`${url}/v1/experiments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spec),
  });
  return created.runs[0]?.id as string;
}

describe("a server killed while a run trains", () => {
  it("re-queues the run on restart; it resumes from its checkpoint and the log has no gap and no duplicate", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-crash-"));
    const first = await startServer(dataDir, LEASE);
    servers.push(first);
    const runId = await submit(first.url);

    // Kill -9 as soon as the third epoch has ended: a checkpoint exists, training is mid-way.
    const seen = await followEvents(`${first.url}/v1/runs/${runId}/events`, {
      stop: (messages) =>
        messages.some((m) => m.event === "epoch.completed" && JSON.parse(m.data).epoch === 2),
    });
    await first.kill();
    expect(seen.ended).toBe(false);

    const second = await startServer(dataDir, LEASE);
    servers.push(second);
    const replay = await followEvents(`${second.url}/v1/runs/${runId}/events`);
    expect(replay.ended).toBe(true);
    // The killed server's lease expired; the second server re-queued the run and trained it.
    expect(second.logs.some((line) => line.includes("re-queued an interrupted run"))).toBe(true);

    const run = await getJson<{ state: string; attempt: number; epochsCompleted: number; lastSeq: number }>(
      `${second.url}/v1/runs/${runId}`,
    );
    expect(run).toMatchObject({ state: "completed", attempt: 2, epochsCompleted: EPOCHS });
    expect(await second.stop()).toBe(0);

    const db = new Database(join(dataDir, "autoprog.sqlite"), { readonly: true });
    const rows = db
      .prepare("select seq, type, attempt, payload from run_events where run_id = ? order by seq")
      .all(runId) as { seq: number; type: string; attempt: number; payload: string }[];
    db.close();
    // Gap-free and unique: 1..N.
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    expect(run.lastSeq).toBe(rows.length);
    // Every epoch exactly once, across both attempts.
    const epochs = rows.filter((r) => r.type === "epoch.completed").map((r) => JSON.parse(r.payload).epoch);
    expect(epochs).toEqual(Array.from({ length: EPOCHS }, (_, i) => i));
    const checkpoints = rows
      .filter((r) => r.type === "checkpoint.saved")
      .map((r) => JSON.parse(r.payload).epoch);
    expect(new Set(checkpoints).size).toBe(checkpoints.length);
    // The second attempt started from a checkpoint, not from scratch.
    const starts = rows
      .filter((r) => r.type === "run.started")
      .map((r) => [r.attempt, JSON.parse(r.payload).startEpoch]);
    expect(starts).toHaveLength(2);
    expect(starts[0]).toEqual([1, 0]);
    expect(starts[1]?.[0]).toBe(2);
    expect(starts[1]?.[1]).toBeGreaterThanOrEqual(2);
    expect(rows.at(-1)?.type).toBe("run.completed");
    // What SSE replayed after the restart is the stored log.
    expect(replay.messages.slice(0, -1).map((m) => Number(m.id))).toEqual(rows.map((r) => r.seq));
  });

  it("a clean stop (SIGTERM) hands a running run back without using an attempt", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-stop-"));
    const first = await startServer(dataDir);
    servers.push(first);
    const runId = await submit(first.url);
    await followEvents(`${first.url}/v1/runs/${runId}/events`, {
      stop: (messages) => messages.some((m) => m.event === "epoch.completed"),
    });
    expect(await first.stop()).toBe(0);
    const db = new Database(join(dataDir, "autoprog.sqlite"), { readonly: true });
    expect(db.prepare("select state, attempt from runs where id = ?").get(runId)).toEqual({
      state: "queued",
      attempt: 0,
    });
    db.close();
  });

  it("a second server on the same data folder leaves the run the first one trains alone", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-two-"));
    const first = await startServer(dataDir);
    servers.push(first);
    const runId = await submit(first.url);
    await followEvents(`${first.url}/v1/runs/${runId}/events`, {
      stop: (messages) => messages.some((m) => m.event === "epoch.completed"),
    });
    const second = await startServer(dataDir);
    servers.push(second);
    const rest = await followEvents(`${first.url}/v1/runs/${runId}/events`);
    expect(rest.ended).toBe(true);
    const run = await getJson<{ state: string; attempt: number }>(`${second.url}/v1/runs/${runId}`);
    expect(run).toMatchObject({ state: "completed", attempt: 1 });
    expect(second.logs.some((line) => line.includes('"run started"') && line.includes(runId))).toBe(false);
    expect(await second.stop()).toBe(0);
  });
});
