import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { eq } from "drizzle-orm";
import { claimRun } from "../db/queue.ts";
import { runs as runsTable } from "../db/schema.ts";
import { openDatabase } from "../db/sqlite.ts";
import { epochMetrics } from "../src/core/metric-keys.ts";
import { loadSettings } from "../src/env.ts";
import { sleep } from "../src/kit/sleep.ts";
import { startServer as startInProcess } from "../src/node.ts";
import { ReplayKeys } from "../src/worker/replay-key.ts";
import { epochCompleted, runCompleted, runStarted, tinySpec } from "../support/fixtures.ts";
import { SERVER_KEY, startServer as startChild } from "../support/server-process.ts";
import { type LoadResult, loadGets, percentile } from "./load.ts";
import { resultStamp } from "./throughput-table.ts";

/**
 * `npm run bench:api`: loopback-only measurements of the service, every loop bounded in count
 * and time.
 * 1. GET /healthz, then the authenticated GET /v1/runs/{id}: requests/s and latency percentiles
 *    (server in a child process, autocannon here with 64 requests in flight, bench/load.ts),
 *    after the same load on a bare node:http server and a bare Hono app (bench/bare-server.ts):
 *    the floors, so what the service adds above them is visible. The GET's answer is kept in
 *    memory after the first (routes/runs/answer-cache.ts); a last load with none kept
 *    (AUTOPROG_RUN_CACHE_SIZE=0) measures the read every GET after a change of its run makes.
 * 2. Event ingestion: events/s through the event sink into a WAL SQLite file, 64 runs' writers
 *    each handing in batches of 25 epoch events (each with its metric row and run summary
 *    update) as pull workers' batches and trainers do: the batch path, one transaction per turn.
 * 3. SSE fan-out: N subscribers (another process, raw HTTP) on one run while events are stored at
 *    50/s, for growing N up to 5,000; then 2,000 subscribers across 200 runs (5 events/s each).
 *    The delay from storing an event until the last subscriber has it.
 * `--quick`: fewer requests, events and subscribers (a direction check, not the issue's numbers).
 * `--out FILE`: the results as JSON too (bench/results/service-api.json is the one the docs'
 * Throughput table is generated from, `npm run docs:results`).
 */
const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, out: { type: "string" } },
});
const quick = args.quick === true;
/** The bootstrap (operator) key of every server started here, and limits that never bind a measurement. */
const AUTH = { authorization: `Bearer ${SERVER_KEY}` };
const UNLIMITED = { AUTOPROG_RATE_LIMIT_PER_MINUTE: "100000000", AUTOPROG_SSE_STREAMS_PER_KEY: "100000" };
const ms = (x: number) => `${x.toFixed(2)} ms`;
/** Requests in flight in the GET measurements (the 64). */
const IN_FLIGHT = 64;

async function post(url: string, body: unknown) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { id: string; runs: { id: string }[] };
}

/** A bench/bare-server.ts child (`node` or `hono`) and its URL. */
async function startBareServer(kind: "node" | "hono") {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/bare-server.ts", kind], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  if (!Number.isInteger(port)) throw new Error(`bare ${kind} server did not start`);
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function benchGets() {
  const load = { connections: IN_FLIGHT, seconds: quick ? 3 : 10, warmupSeconds: quick ? 1 : 3 };
  const floors: Record<string, LoadResult> = {};
  for (const kind of ["node", "hono"] as const) {
    const bare = await startBareServer(kind);
    try {
      floors[kind] = await loadGets(`${bare.url}/healthz`, load);
    } finally {
      bare.stop();
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "autoprog-bench-"));
  try {
    const kept = await onServer(dir, {}, async (url) => {
      const { runs } = await post(`${url}/v1/experiments`, tinySpec({ seeds: [0, 1] }));
      const [queued, finished] = runs as { id: string }[];
      const finishedResultBytes = await completeWithResult(dir, finished?.id ?? "");
      const urls = [`${url}/healthz`, `${url}/v1/runs/${queued?.id}`, `${url}/v1/runs/${finished?.id}`];
      // Each route warmed before any is measured: the first measured once paid for the server's warm-up alone.
      for (const get of urls)
        await loadGets(get, { ...load, seconds: load.warmupSeconds, warmupSeconds: 0, headers: AUTH });
      return {
        queuedId: queued?.id ?? "",
        finishedResultBytes,
        health: await loadGets(urls[0] as string, load),
        run: await loadGets(urls[1] as string, { ...load, headers: AUTH }),
        finishedRun: await loadGets(urls[2] as string, { ...load, headers: AUTH }),
      };
    });
    // The same data folder, no answers kept: every GET reads the row, as the first GET after a run changes does.
    const uncachedRun = await onServer(dir, { AUTOPROG_RUN_CACHE_SIZE: "0" }, (url) =>
      loadGets(`${url}/v1/runs/${kept.queuedId}`, { ...load, headers: AUTH }),
    );
    const { queuedId: _queuedId, finishedResultBytes, ...loads } = kept;
    for (const [name, r] of Object.entries({ ...floors, ...loads, uncachedRun })) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    }
    return {
      bareNode: floors.node as LoadResult,
      bareHono: floors.hono as LoadResult,
      ...loads,
      finishedResultBytes,
      uncachedRun,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `measure` against the real server (a child process, no trainer, limits that never bind) on `dir`, stopped after. */
async function onServer<T>(dir: string, env: Record<string, string>, measure: (url: string) => Promise<T>) {
  const server = await startChild(dir, { AUTOPROG_CONCURRENCY: "0", ...UNLIMITED, ...env });
  try {
    return await measure(server.url);
  } finally {
    await server.stop();
  }
}

/** Epochs in the finished run's history: a 300-epoch DeiT schedule's result, as a trainer leaves it. */
const FINISHED_EPOCHS = 300;

/**
 * Makes the run `completed` with a result of FINISHED_EPOCHS epochs, written into the server's
 * database as the event sink would leave it (the GET reads the row, not the events); its size.
 */
async function completeWithResult(dir: string, runId: string): Promise<number> {
  const { result } = runCompleted();
  const history = Array.from({ length: FINISHED_EPOCHS }, (_, epoch) => {
    const { type: _type, ...record } = epochCompleted(epoch, 0.5 + epoch / 1000);
    return record;
  });
  const full = { ...result, epochs: FINISHED_EPOCHS, history };
  const database = openDatabase(loadSettings({ AUTOPROG_DATA_DIR: dir }).databaseFile);
  try {
    const now = Date.now();
    await database.db
      .update(runsTable)
      .set({
        state: "completed",
        result: full,
        epochsCompleted: FINISHED_EPOCHS,
        finishedAt: now,
        updatedAt: now,
      })
      .where(eq(runsTable.id, runId));
  } finally {
    database.close();
  }
  return JSON.stringify(full).length;
}

/** An in-process API server on a free port with a fresh data folder and no trainer. */
async function startQuietServer() {
  const dir = await mkdtemp(join(tmpdir(), "autoprog-bench-"));
  const settings = loadSettings({
    AUTOPROG_DATA_DIR: dir,
    AUTOPROG_PORT: "0",
    AUTOPROG_CONCURRENCY: "0",
    AUTOPROG_LOG: "silent",
    AUTOPROG_BOOTSTRAP_KEY: SERVER_KEY,
    ...UNLIMITED,
  });
  return { dir, settings, server: await startInProcess(settings) };
}

async function benchIngest() {
  const { dir, settings, server } = await startQuietServer();
  const database = openDatabase(settings.databaseFile);
  try {
    const runs = await queuedRuns(server.url, 64);
    const total = quick ? 8_000 : 64_000;
    const perRun = total / runs.length;
    const batchSize = 25;
    const { sink } = server;
    const claimed = [];
    for (let i = 0; i < runs.length; i++) {
      const run = await claimRun(database.db, { owner: "bench", now: Date.now(), leaseMs: 600_000 });
      if (!run) throw new Error("no run");
      claimed.push(run);
    }
    const started = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(
      claimed.map(async (run) => {
        const keys = new ReplayKeys();
        for (let first = 0; first < perRun; first += batchSize) {
          const batch = Array.from({ length: Math.min(batchSize, perRun - first) }, (_, i) => {
            const event = first + i === 0 ? runStarted() : epochCompleted(first + i - 1);
            return sink.record(run.id, run.attempt, event, keys.next(event));
          });
          await Promise.all(batch);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    return {
      events: total,
      runs: runs.length,
      batchSize,
      eventsPerSecond: total / seconds,
      eventsPerCpuSecond: total / ((used.user + used.system) / 1e6),
      // One metric row per event, holding every series' value of the epoch (db/schema.ts metricPoints).
      metricValuesPerEvent: Object.keys(epochMetrics(epochCompleted(1))).length,
    };
  } finally {
    database.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Submits experiments until `count` runs are queued (a spec takes at most 16 seeds); their ids. */
async function queuedRuns(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let first = 0; first < count; first += 16) {
    const seeds = Array.from({ length: Math.min(16, count - first) }, (_, i) => first + i);
    const { runs } = await post(`${url}/v1/experiments`, tinySpec({ name: `bench-${first}`, seeds }));
    ids.push(...runs.map((r) => r.id));
  }
  return ids;
}

async function benchFanOut(subscribers: number, runCount: number, events: number, ratePerRun: number) {
  const { dir, settings, server } = await startQuietServer();
  const database = openDatabase(settings.databaseFile);
  try {
    await queuedRuns(server.url, runCount);
    const runs = [];
    for (let i = 0; i < runCount; i++) {
      const run = await claimRun(database.db, { owner: "bench", now: Date.now(), leaseMs: 600_000 });
      if (!run) throw new Error("no run");
      runs.push(run);
    }
    const clients = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "bench/sse-clients.ts",
        server.url,
        String(subscribers),
        runs.map((r) => r.id).join(","),
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, AUTOPROG_KEY: SERVER_KEY },
      },
    );
    const lines = createInterface({ input: clients.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    const next = async () =>
      JSON.parse(((await lines.next()).value as string | undefined) ?? "{}") as Record<string, unknown>;
    const ready = await next();
    if (ready.connected !== subscribers) throw new Error(`subscribers: ${JSON.stringify(ready)}`);
    // `${run index}:${seq}` → when the event was handed to the sink.
    const published = new Map<string, number>();
    const keys = runs.map(() => new ReplayKeys());
    const interval = 1000 / ratePerRun;
    const start = performance.now();
    let recordMs = 0;
    for (let i = 0; i < events; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 0) await sleep(wait);
      const event = i === 0 ? runStarted() : epochCompleted(i - 1);
      const t0 = performance.now();
      // Every run's event of this tick handed in together, as concurrent writers do.
      const seqs = await Promise.all(
        runs.map((run, r) =>
          server.sink.record(run.id, run.attempt, event, (keys[r] as ReplayKeys).next(event)),
        ),
      );
      recordMs += performance.now() - t0;
      seqs.forEach((seq, r) => {
        if (seq !== null) published.set(`${r}:${seq}`, performance.timeOrigin + t0);
      });
    }
    await Promise.all(
      runs.map((run) =>
        server.sink.record(
          run.id,
          run.attempt,
          { type: "run.failed", reason: "cancelled", message: "bench", epoch: null, step: null },
          null,
        ),
      ),
    );
    const result = await next();
    clients.kill();
    const arrivals = (result.arrivals ?? {}) as Record<string, number>;
    const delays = [...published]
      .map(([name, at]) => (arrivals[name] ?? Number.POSITIVE_INFINITY) - at)
      .sort((a, b) => a - b);
    const delivered = delays.filter(Number.isFinite).length;
    return {
      subscribers,
      runs: runCount,
      events,
      delivered: delivered === published.size && result.ended === subscribers && result.outOfOrder === 0,
      p50: percentile(delays, 0.5),
      p99: percentile(delays, 0.99),
      recordMsPerTick: recordMs / events,
    };
  } finally {
    database.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const gets = await benchGets();
const describeLoad = (r: LoadResult) =>
  `${r.requestsPerSecond} req/s over ${r.requests} requests (${IN_FLIGHT} in flight), p50 ${ms(r.p50Ms)} p90 ${ms(r.p90Ms)} p99 ${ms(r.p99Ms)} max ${ms(r.maxMs)}`;
console.log(`bare node:http server: ${describeLoad(gets.bareNode)}`);
console.log(`bare Hono app: ${describeLoad(gets.bareHono)}`);
console.log(`GET /healthz: ${describeLoad(gets.health)}`);
console.log(
  `GET /v1/runs/{id} (authenticated, its answer kept): ${describeLoad(gets.run)}; /healthz is ${(gets.health.requestsPerSecond / gets.run.requestsPerSecond).toFixed(2)}x its throughput`,
);
console.log(
  `GET /v1/runs/{id} of a completed run (a ${FINISHED_EPOCHS}-epoch result of ${gets.finishedResultBytes} bytes in its row): ${describeLoad(gets.finishedRun)}`,
);
console.log(
  `GET /v1/runs/{id} with no answer kept (AUTOPROG_RUN_CACHE_SIZE=0): ${describeLoad(gets.uncachedRun)}`,
);
const ingest = await benchIngest();
console.log(
  `event ingestion: ${ingest.eventsPerSecond.toFixed(0)} events/s (${ingest.eventsPerCpuSecond.toFixed(0)} per CPU-second of this process; ${ingest.events} epoch.completed events over ${ingest.runs} runs in batches of ${ingest.batchSize}, each with its metric row of ${ingest.metricValuesPerEvent} values and its run summary update)`,
);
const rate = 50;
const events = quick ? 100 : 250;
const oneRun: Awaited<ReturnType<typeof benchFanOut>>[] = [];
for (const n of quick ? [1, 100, 1000] : [1, 100, 1000, 2500, 5000]) {
  const r = await benchFanOut(n, 1, events, rate);
  oneRun.push(r);
  console.log(
    `SSE fan-out, ${n} subscribers on one run, ${events} events at ${rate}/s: every event delivered once, in order ${r.delivered}, ` +
      `delay to the last subscriber p50 ${ms(r.p50)} p99 ${ms(r.p99)}, sink ${ms(r.recordMsPerTick)} per event`,
  );
  if (!r.delivered || r.p99 > 1000) break;
}
const perRunRate = 5;
const acrossRuns = await benchFanOut(quick ? 500 : 2000, quick ? 50 : 200, quick ? 20 : 50, perRunRate);
console.log(
  `SSE fan-out, ${acrossRuns.subscribers} subscribers across ${acrossRuns.runs} runs, ${acrossRuns.events} events per run at ${perRunRate}/s each (${acrossRuns.runs * perRunRate} events/s in all): ` +
    `every event delivered once, in order ${acrossRuns.delivered}, delay to the last subscriber p50 ${ms(acrossRuns.p50)} p99 ${ms(acrossRuns.p99)}`,
);

if (args.out) {
  const fanOut = (r: (typeof oneRun)[number], eventsPerSecondPerRun: number) => ({
    subscribers: r.subscribers,
    runs: r.runs,
    eventsPerRun: r.events,
    eventsPerSecondPerRun,
    everyEventOnceInOrder: r.delivered,
    p50Ms: Number(r.p50.toFixed(1)),
    p99Ms: Number(r.p99.toFixed(1)),
  });
  const summary = {
    ...resultStamp(`npm run bench:api${quick ? " -- --quick" : ""}`),
    inFlight: IN_FLIGHT,
    gets,
    ingestion: {
      events: ingest.events,
      runs: ingest.runs,
      batchSize: ingest.batchSize,
      metricValuesPerEvent: ingest.metricValuesPerEvent,
      eventsPerSecond: Math.round(ingest.eventsPerSecond),
      eventsPerCpuSecond: Math.round(ingest.eventsPerCpuSecond),
    },
    sseOneRun: oneRun.map((r) => fanOut(r, rate)),
    sseAcrossRuns: fanOut(acrossRuns, perRunRate),
  };
  await writeFile(args.out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`wrote ${args.out}`);
}
