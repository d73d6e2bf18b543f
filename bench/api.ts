import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { claimRun } from "../db/queue.ts";
import { openDatabase } from "../db/sqlite.ts";
import { loadSettings } from "../src/env.ts";
import { sleep } from "../src/kit/sleep.ts";
import { startServer as startInProcess } from "../src/node.ts";
import { ReplayKeys } from "../src/worker/replay-key.ts";
import { epochCompleted, runStarted, tinySpec } from "../support/fixtures.ts";
import { SERVER_KEY, startServer as startChild } from "../support/server-process.ts";

/**
 * `npm run bench:api`: loopback-only measurements of the service, every loop bounded in count
 * and time.
 * 1. GET /v1/runs/{id}: requests/s and latency percentiles (server in a child process, keep-alive
 *    client here, a fixed number of requests in flight).
 * 2. Event ingestion: events/s through the event sink into a WAL SQLite file (each event with its
 *    derived metrics rows and run summary update, one batch per event).
 * 3. SSE fan-out: N subscribers (another process) on one run while events are stored at a fixed
 *    rate; the delay until the last subscriber has each event, for growing N.
 */
const quick = process.argv.includes("--quick");
/** The bootstrap (operator) key of every server started here, and limits that never bind a measurement. */
const AUTH = { authorization: `Bearer ${SERVER_KEY}` };
const UNLIMITED = { AUTOPROG_RATE_LIMIT_PER_MINUTE: "100000000", AUTOPROG_SSE_STREAMS_PER_KEY: "100000" };
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function post(url: string, body: unknown) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...AUTH },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { id: string; runs: { id: string }[] };
}

async function benchGetRun() {
  const dir = await mkdtemp(join(tmpdir(), "autoprog-bench-"));
  const server = await startChild(dir, { AUTOPROG_CONCURRENCY: "0", ...UNLIMITED });
  try {
    const { runs } = await post(`${server.url}/v1/experiments`, tinySpec());
    const target = new URL(`${server.url}/v1/runs/${runs[0]?.id}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const start = performance.now();
        const req = request(
          { host: target.hostname, port: target.port, path: target.pathname, agent, headers: AUTH },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200
                ? resolve(performance.now() - start)
                : reject(new Error(`${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
        req.end();
      });
    const total = quick ? 2_000 : 20_000;
    const inFlight = 32;
    for (let i = 0; i < 500; i++) await get(); // warm-up
    const latencies: number[] = [];
    let issued = 0;
    const started = performance.now();
    const deadline = started + 30_000;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (issued < total && performance.now() < deadline) {
          issued += 1;
          latencies.push(await get());
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    agent.destroy();
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      inFlight,
      rps: latencies.length / seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
    };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
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
  try {
    const spec = tinySpec({ seeds: [0, 1, 2, 3] });
    const { runs } = await post(`${server.url}/v1/experiments`, spec);
    const database = openDatabase(settings.databaseFile);
    const total = quick ? 2_000 : 20_000;
    const perRun = total / runs.length;
    const { sink } = server;
    const started = performance.now();
    await Promise.all(
      runs.map(async () => {
        const run = await claimRun(database.db, { owner: "bench", now: Date.now(), leaseMs: 600_000 });
        if (!run) throw new Error("no run");
        const keys = new ReplayKeys();
        for (let i = 0; i < perRun; i++) {
          const event = i === 0 ? runStarted() : epochCompleted(i - 1);
          await sink.record(run.id, run.attempt, event, keys.next(event));
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    database.close();
    return { events: total, runs: runs.length, eventsPerSecond: total / seconds, metricsRowsPerEvent: 12 };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchFanOut(subscribers: number, events: number, ratePerSecond: number) {
  const { dir, settings, server } = await startQuietServer();
  const database = openDatabase(settings.databaseFile);
  try {
    await post(`${server.url}/v1/experiments`, tinySpec());
    const run = await claimRun(database.db, { owner: "bench", now: Date.now(), leaseMs: 600_000 });
    if (!run) throw new Error("no run");
    const clients = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "bench/sse-clients.ts",
        `${server.url}/v1/runs/${run.id}/events`,
        String(subscribers),
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
    const published = new Map<number, number>();
    const keys = new ReplayKeys();
    const interval = 1000 / ratePerSecond;
    const start = performance.now();
    let recordMs = 0;
    for (let i = 0; i < events; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 0) await sleep(wait);
      const event = i === 0 ? runStarted() : epochCompleted(i - 1);
      const t0 = performance.now();
      const seq = await server.sink.record(run.id, run.attempt, event, keys.next(event));
      recordMs += performance.now() - t0;
      if (seq !== null) published.set(seq, performance.timeOrigin + t0);
    }
    await server.sink.record(
      run.id,
      run.attempt,
      { type: "run.failed", reason: "cancelled", message: "bench", epoch: null, step: null },
      null,
    );
    const result = await next();
    clients.kill();
    const arrivals = (result.arrivals ?? {}) as Record<string, number>;
    const delays = [...published]
      .map(([seq, at]) => (arrivals[String(seq)] ?? Number.POSITIVE_INFINITY) - at)
      .sort((a, b) => a - b);
    const delivered = delays.filter(Number.isFinite).length;
    return {
      subscribers,
      events,
      delivered: delivered === events && result.ended === subscribers,
      p50: percentile(delays, 0.5),
      p99: percentile(delays, 0.99),
      recordMsPerEvent: recordMs / events,
    };
  } finally {
    database.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const get = await benchGetRun();
console.log(
  `GET /v1/runs/{id}: ${get.rps.toFixed(0)} req/s over ${get.requests} requests (${get.inFlight} in flight), p50 ${ms(get.p50)}, p99 ${ms(get.p99)}`,
);
const ingest = await benchIngest();
console.log(
  `event ingestion: ${ingest.eventsPerSecond.toFixed(0)} events/s (${ingest.events} epoch.completed events over ${ingest.runs} runs, each with ${ingest.metricsRowsPerEvent} metric rows, one batch per event)`,
);
const rate = 50;
const events = quick ? 50 : 150;
let fed = 0;
for (const n of quick ? [1, 50] : [1, 10, 100, 250, 500, 1000]) {
  const r = await benchFanOut(n, events, rate);
  const ok = r.delivered && r.p99 < 1000;
  if (ok) fed = n;
  console.log(
    `SSE fan-out, ${n} subscribers, ${events} events at ${rate}/s: every event delivered ${r.delivered}, ` +
      `delay to the last subscriber p50 ${ms(r.p50)} p99 ${ms(r.p99)}, sink ${ms(r.recordMsPerEvent)} per event`,
  );
  if (!ok) break;
}
console.log(
  `one run fed ${fed} concurrent SSE subscribers with every event delivered and p99 delay under 1 s`,
);
