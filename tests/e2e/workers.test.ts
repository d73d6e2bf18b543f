import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { getJson, type ServerProcess, startServer } from "../../support/server-process.ts";
import { tinySpec } from "../api/helpers.ts";

/** Short leases, so a killed worker's run is re-queued within seconds. */
const SERVER_ENV = { AUTOPROG_DISPATCH: "workers", AUTOPROG_LEASE_SECONDS: "3" };
const EPOCHS = 2;

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly logs: string[];
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill();
});

function startWorker(url: string, key: string, name: string): WorkerProcess {
  const child = spawn(
    process.execPath,
    ["src/cli/autoprog.mjs", "worker", "--api", url, "--backend", "wasm", "--name", name],
    {
      env: { ...process.env, AUTOPROG_API_KEY: key, AUTOPROG_DATA_DIR: join(tmpdir(), `autoprog-${name}`) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  const logs: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => logs.push(line));
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => logs.push(line));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, logs, exited };
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 120_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function setUp(name: string, seeds: number[], epochs = EPOCHS) {
  const dataDir = await mkdtemp(join(tmpdir(), `autoprog-${name}-`));
  const server = await startServer(dataDir, SERVER_ENV);
  servers.push(server);
  const { key } = await getJson<{ key: string }>(`${server.url}/v1/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ project: "default", role: "worker", name }),
  });
  const spec = tinySpec({
    name,
    seeds,
    training: { epochs, batchSize: 32, warmupEpochs: 0, evalBatchSize: 64 },
  });
  const created = await getJson<{ runs: { id: string }[] }>(`${server.url}/v1/experiments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spec),
  });
  const database = new Database(join(dataDir, "autoprog.sqlite"), { readonly: true });
  return { server, key, runIds: created.runs.map((r) => r.id), database };
}

type Row = { seq: number; type: string; attempt: number; payload: string };
const eventsOf = (db: Database.Database, runId: string) =>
  db
    .prepare("select seq, type, attempt, payload from run_events where run_id = ? order by seq")
    .all(runId) as Row[];
const stateOf = (db: Database.Database, runId: string) =>
  db.prepare("select state, attempt, lease_owner as leaseOwner from runs where id = ?").get(runId) as {
    state: string;
    attempt: number;
    leaseOwner: string | null;
  };

describe("two pull workers on loopback", () => {
  it("share four runs; a killed worker's run resumes on the other from its checkpoint; nothing lost or doubled", async () => {
    // Enough epochs that the victim is still training after its first checkpoint when the kill
    // lands (with 2 it sometimes finished first on a loaded machine, and had no second attempt).
    const epochs = 5;
    const { key, runIds, database } = await setUp("pair", [0, 1, 2, 3], epochs);
    const url = servers[0]?.url as string;
    const workers = [startWorker(url, key, "first"), startWorker(url, key, "second")];
    // The victim: the first run whose first checkpoint is in the log; its worker is killed.
    const victim = await until("a first checkpoint", () =>
      runIds.find((id) => eventsOf(database, id).some((r) => r.type === "checkpoint.saved")),
    );
    const holder = workers.find((w) =>
      w.logs.some((l) => l.includes('"leased a run"') && l.includes(victim)),
    );
    const survivor = workers.find((w) => w !== holder) as WorkerProcess;
    holder?.child.kill("SIGKILL");
    await holder?.exited;
    const states = () => runIds.map((id) => `${id} ${JSON.stringify(stateOf(database, id))}`).join("\n");

    await until(
      "every run to end",
      () =>
        runIds.every((id) => ["completed", "failed"].includes(stateOf(database, id).state))
          ? true
          : undefined,
      150_000,
    );
    for (const id of runIds) {
      const rows = eventsOf(database, id);
      expect(stateOf(database, id).state, `${states()}\n${survivor.logs.join("\n")}`).toBe("completed");
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
      expect(rows.filter((r) => r.type === "run.completed")).toHaveLength(1);
      const epochLevel = rows
        .filter((r) => r.type === "epoch.completed" || r.type === "checkpoint.saved")
        .map((r) => `${r.type}@${JSON.parse(r.payload).epoch}`);
      expect(new Set(epochLevel).size).toBe(epochLevel.length);
      expect(rows.filter((r) => r.type === "epoch.completed")).toHaveLength(epochs);
    }
    // The victim's second attempt started from the checkpoint the killed worker uploaded.
    const starts = eventsOf(database, victim)
      .filter((r) => r.type === "run.started")
      .map((r) => [r.attempt, JSON.parse(r.payload).startEpoch as number]);
    expect(starts[0]).toEqual([1, 0]);
    expect(starts.at(-1)?.[0]).toBe(2);
    expect(starts.at(-1)?.[1]).toBeGreaterThan(0);
    database.close();
    survivor.child.kill("SIGTERM");
    expect(await survivor.exited).toBe(0);
  }, 420_000);

  it("a worker stopped with SIGTERM hands its run back with the attempt refunded and exits 0", async () => {
    // Many epochs: the run must still be training when the signal arrives.
    const { key, runIds, database } = await setUp("stop", [0], 20);
    const runId = runIds[0] as string;
    const worker = startWorker(servers[0]?.url as string, key, "stopper");
    await until("the run's first epoch", () =>
      eventsOf(database, runId).some((r) => r.type === "epoch.completed") ? true : undefined,
    );
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(stateOf(database, runId)).toEqual({ state: "queued", attempt: 0, leaseOwner: null });
    expect(worker.logs.some((line) => line.includes("stopping"))).toBe(true);
    database.close();
  }, 180_000);
});
