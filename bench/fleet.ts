import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, type IncomingMessage, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { packCheckpoint } from "../src/checkpoints/wire.ts";
import type { TrainingEvent } from "../src/core/events.ts";
import { sleep } from "../src/kit/sleep.ts";
import { ReplayKeys } from "../src/worker/replay-key.ts";
import { checkpointSaved, epochCompleted, runStarted, tinySpec } from "../support/fixtures.ts";
import { SERVER_KEY, startServer } from "../support/server-process.ts";
import { percentile } from "./load.ts";
import { resultStamp } from "./throughput-table.ts";

/**
 * `npm run bench:fleet`: a fleet of simulated pull workers and SSE watchers against a real
 * server process (`src/serve.ts`, `AUTOPROG_DISPATCH=workers`) on loopback, bounded in count and
 * time. Each worker leases a run, reports `run.started`, then an epoch every `--epoch-seconds`
 * (jittered) in an event batch, uploads a checkpoint of `--checkpoint-bytes` every
 * `--checkpoint-every` epochs (before the `checkpoint.saved` event that names it), and heartbeats
 * every `--heartbeat-seconds`. Each watcher follows one run's SSE stream and checks that every
 * seq arrives exactly once and in order. At the end every run's stored `lastSeq` is compared
 * with what its worker had accepted.
 *
 * Reports per-route p50/p99, events/s stored, lost leases (a heartbeat or batch refused with 409:
 * nothing here lets a lease lapse on purpose), lost/duplicated events, SSE delivery delay (worker
 * send to watcher receipt), the server's peak RSS and this process's event-loop delay (when that
 * is high the client, not the server, is the bottleneck: split the fleet or give it a core).
 *
 * `--quick`: 100 workers, 100 watchers, 20 s, an epoch every 2 s, a checkpoint every 3. The run: the defaults (1,000 workers,
 * 1,000 watchers, 120 s). Writes the summary as JSON to `--out` when given.
 *
 * Workers (workerd + D1) is not driven here: there the SSE route polls D1 every
 * `SSE_HEARTBEAT_MS` (one isolate cannot wake another), so a watcher costs a D1 read per poll,
 * and local workerd/D1 (miniflare's SQLite) says nothing about Cloudflare's edge; see
 * docs/deployment.md.
 */
const { values: args } = parseArgs({
  options: {
    workers: { type: "string", default: "1000" },
    watchers: { type: "string", default: "1000" },
    seconds: { type: "string", default: "120" },
    "epoch-seconds": { type: "string", default: "10" },
    "heartbeat-seconds": { type: "string", default: "10" },
    "lease-seconds": { type: "string", default: "30" },
    "checkpoint-bytes": { type: "string", default: String(1024 * 1024) },
    "checkpoint-every": { type: "string", default: "5" },
    sockets: { type: "string", default: "256" },
    url: { type: "string" },
    out: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const quick = args.quick;
const WORKERS = quick ? 100 : Number(args.workers);
const WATCHERS = quick ? 100 : Number(args.watchers);
const SECONDS = quick ? 20 : Number(args.seconds);
// Quick: epochs every 2 s and a checkpoint every 3, so a short pass exercises every route.
const EPOCH_MS = (quick ? 2 : Number(args["epoch-seconds"])) * 1000;
const HEARTBEAT_MS = Number(args["heartbeat-seconds"]) * 1000;
const CHECKPOINT_BYTES = Number(args["checkpoint-bytes"]);
const CHECKPOINT_EVERY = quick ? 3 : Number(args["checkpoint-every"]);
// A spec takes at most 16 seeds (one arm: one run per seed).
const RUNS_PER_EXPERIMENT = 16;

// A timeout makes node:http's Agent heed the server's `Keep-Alive: timeout=5` (it then drops an
// idle socket a second early); without one it reused sockets the server was closing, and the
// requests on them failed with ECONNRESET. Workers' fetch (undici) heeds the hint on its own.
const agent = new Agent({ keepAlive: true, maxSockets: Number(args.sockets), timeout: 60_000 });

/** Latencies and failures per route, as the summary reports them. */
const routes = new Map<string, { latencies: number[]; errors: Map<string, number> }>();
function note(route: string, ms: number, error?: string) {
  let entry = routes.get(route);
  if (!entry) {
    entry = { latencies: [], errors: new Map() };
    routes.set(route, entry);
  }
  if (error === undefined) entry.latencies.push(ms);
  else entry.errors.set(error, (entry.errors.get(error) ?? 0) + 1);
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One HTTP request on the shared keep-alive agent, timed under `route`. */
function call(
  base: URL,
  route: string,
  method: string,
  path: string,
  options: { key: string; json?: unknown; body?: Uint8Array; headers?: Record<string, string> },
): Promise<Answer> {
  const payload = options.json !== undefined ? JSON.stringify(options.json) : options.body;
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.key}`,
    ...(options.json !== undefined ? { "content-type": "application/json" } : {}),
    ...(options.body !== undefined ? { "content-type": "application/octet-stream" } : {}),
    ...options.headers,
  };
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: base.hostname, port: base.port, path, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const ms = performance.now() - started;
        note(route, ms, status >= 400 ? String(status) : undefined);
        resolve({ status, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("error", (error) => {
      note(route, 0, error.message);
      resolve({ status: 0, body: error.message });
    });
    req.end(payload);
  });
}

/** When each (run, seq) was sent by its worker, for the watchers' delivery delay. */
const sentAt = new Map<string, number>();
const deliveryDelays: number[] = [];
const counters = {
  eventsAccepted: 0,
  eventsDuplicate: 0,
  lostLeases: 0,
  leaseDenied: 0,
  watcherGaps: 0,
  watcherDuplicates: 0,
  watcherFramesReceived: 0,
  watcherDisconnects: 0,
  checkpointsUploaded: 0,
};

interface Grant {
  run: { id: string; attempt: number };
  lease: { token: string };
}

/** One simulated pull worker: lease, report, heartbeat, upload, until `deadline`; then release. */
async function worker(
  base: URL,
  key: string,
  index: number,
  deadline: number,
  accepted: Map<string, number>,
) {
  const leased = await call(base, "POST /v1/workers/lease", "POST", "/v1/workers/lease", {
    key,
    json: { worker: `bench-${index}`, wait: 0 },
  });
  if (leased.status !== 200) {
    counters.leaseDenied += 1;
    return;
  }
  const grant = JSON.parse(leased.body) as Grant;
  const runId = grant.run.id;
  const token = grant.lease.token;
  const keys = new ReplayKeys();
  let seq = 0;
  let stored = 0;
  let lost = false;
  const send = async (events: TrainingEvent[]) => {
    const sent = performance.timeOrigin + performance.now();
    for (let i = 1; i <= events.length; i++) sentAt.set(`${runId}#${stored + i}`, sent);
    const answer = await call(base, "POST /v1/runs/{id}/events", "POST", `/v1/runs/${runId}/events`, {
      key,
      json: { token, events: events.map((event) => ({ seq: seq++, event, replayKey: keys.next(event) })) },
    });
    if (answer.status === 409) lost = true;
    if (answer.status !== 200) return;
    const result = JSON.parse(answer.body) as { accepted: number; duplicates: number };
    counters.eventsAccepted += result.accepted;
    counters.eventsDuplicate += result.duplicates;
    stored += result.accepted;
    accepted.set(runId, stored);
  };
  const heartbeats = (async () => {
    // Spread over the interval, so a thousand workers do not beat in step.
    await sleep(Math.random() * HEARTBEAT_MS);
    while (!lost && Date.now() < deadline) {
      const answer = await call(base, "POST /v1/workers/heartbeat", "POST", "/v1/workers/heartbeat", {
        key,
        json: { runId, token },
      });
      if (answer.status === 409) lost = true;
      await sleep(HEARTBEAT_MS);
    }
  })();
  await send([runStarted()]);
  await sleep(Math.random() * EPOCH_MS);
  for (let epoch = 0; !lost && Date.now() < deadline; epoch++) {
    const events: TrainingEvent[] = [epochCompleted(epoch)];
    if ((epoch + 1) % CHECKPOINT_EVERY === 0) {
      const answer = await call(
        base,
        "PUT /v1/runs/{id}/checkpoints/{epoch}",
        "PUT",
        `/v1/runs/${runId}/checkpoints/${epoch + 1}`,
        { key, body: checkpointBody(epoch + 1), headers: { "autoprog-lease-token": token } },
      );
      if (answer.status === 409) lost = true;
      if (answer.status === 204 || answer.status === 200) {
        counters.checkpointsUploaded += 1;
        events.push(checkpointSaved(epoch + 1));
      }
    }
    await send(events);
    await sleep(EPOCH_MS * (0.8 + Math.random() * 0.4));
  }
  await heartbeats;
  if (lost) counters.lostLeases += 1;
  else {
    await call(base, "POST /v1/workers/release", "POST", "/v1/workers/release", {
      key,
      json: { runId, token },
    });
  }
}

/** A packed checkpoint of the configured size (random bytes compress as badly as weights do). */
function checkpointBody(epoch: number): Uint8Array {
  const data = new Uint8Array(CHECKPOINT_BYTES);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i * 31 + epoch) & 255;
  return packCheckpoint({ meta: new TextEncoder().encode(JSON.stringify({ epoch, format: "bench" })), data });
}

/**
 * One SSE watcher on raw HTTP (a full SSE parser per watcher would make this process the
 * bottleneck): reads `id:` lines, checks each seq is the last plus one.
 */
function watcher(base: URL, key: string, runId: string, connected: () => void): () => void {
  let last = 0;
  let buffered = "";
  let closing = false;
  const started = performance.now();
  const req = request(
    {
      host: base.hostname,
      port: base.port,
      path: `/v1/runs/${runId}/events`,
      headers: { authorization: `Bearer ${key}`, accept: "text/event-stream" },
      agent: false,
    },
    (res: IncomingMessage) => {
      note(
        "GET /v1/runs/{id}/events (connect)",
        performance.now() - started,
        res.statusCode === 200 ? undefined : String(res.statusCode),
      );
      connected();
      res.setEncoding("utf8");
      res.on("data", (text: string) => {
        const now = performance.timeOrigin + performance.now();
        buffered += text;
        let cut = buffered.lastIndexOf("\n\n");
        if (cut < 0) return;
        const complete = buffered.slice(0, cut);
        buffered = buffered.slice(cut + 2);
        for (let at = complete.indexOf("id: "); at >= 0; at = complete.indexOf("id: ", at + 4)) {
          if (at > 0 && complete[at - 1] !== "\n") continue;
          cut = complete.indexOf("\n", at);
          const seq = Number(complete.slice(at + 4, cut < 0 ? undefined : cut));
          counters.watcherFramesReceived += 1;
          if (seq <= last) counters.watcherDuplicates += 1;
          else if (seq !== last + 1) counters.watcherGaps += 1;
          last = Math.max(last, seq);
          const sent = sentAt.get(`${runId}#${seq}`);
          if (sent !== undefined) deliveryDelays.push(now - sent);
        }
      });
      res.on("close", () => {
        if (!closing) counters.watcherDisconnects += 1;
      });
    },
  );
  req.on("error", () => {
    if (!closing) counters.watcherDisconnects += 1;
  });
  req.end();
  return () => {
    closing = true;
    req.destroy();
  };
}

/** The server's resident memory now (Linux), in MiB. */
function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "autoprog-fleet-"));
  const server = args.url
    ? null
    : await startServer(dir, {
        AUTOPROG_DISPATCH: "workers",
        AUTOPROG_LEASE_SECONDS: args["lease-seconds"] as string,
        AUTOPROG_RATE_LIMIT_PER_MINUTE: "100000000",
        AUTOPROG_WORKER_RATE_PER_MINUTE: "100000000",
        AUTOPROG_SSE_STREAMS_PER_KEY: "1000000",
      });
  const base = new URL(args.url ?? (server?.url as string));
  const admin = SERVER_KEY;
  try {
    const created = await call(base, "setup", "POST", "/v1/keys", {
      key: admin,
      json: { role: "worker", name: "fleet" },
    });
    const workerKey = (JSON.parse(created.body) as { key: string }).key;
    const epochs = Math.ceil(SECONDS / (EPOCH_MS / 1000)) * 2 + 10;
    const runIds: string[] = [];
    for (let first = 0; first < WORKERS; first += RUNS_PER_EXPERIMENT) {
      const seeds = Array.from(
        { length: Math.min(RUNS_PER_EXPERIMENT, WORKERS - first) },
        (_, i) => first + i,
      );
      const answer = await call(base, "setup", "POST", "/v1/experiments", {
        key: admin,
        json: tinySpec({ name: `fleet-${first}`, seeds, training: { ...tinySpec().training, epochs } }),
      });
      if (answer.status !== 201) throw new Error(`could not submit: ${answer.status} ${answer.body}`);
      runIds.push(...(JSON.parse(answer.body) as { runs: { id: string }[] }).runs.map((r) => r.id));
    }
    // Watchers first, on the runs in turn, so each sees its run from the start.
    let connected = 0;
    const stops = Array.from({ length: WATCHERS }, (_, i) =>
      watcher(base, admin, runIds[i % runIds.length] as string, () => {
        connected += 1;
      }),
    );
    for (let i = 0; i < 600 && connected < WATCHERS; i++) await sleep(100);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let peakServerRss = rssMiB(server?.child.pid);
    const sampler = setInterval(() => {
      peakServerRss = Math.max(peakServerRss, rssMiB(server?.child.pid));
    }, 1000);
    const accepted = new Map<string, number>();
    const started = performance.now();
    const deadline = Date.now() + SECONDS * 1000;
    // Workers arrive over the first tenth of the run, as a fleet starting up does.
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, i) => {
        await sleep((i / WORKERS) * SECONDS * 100);
        await worker(base, workerKey, i, deadline, accepted);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await sleep(1000); // the last frames reach the watchers
    clearInterval(sampler);
    lag.disable();
    for (const stop of stops) stop();
    // Every run's log against what its worker had stored: nothing lost, nothing doubled.
    let mismatched = 0;
    for (const [runId, stored] of accepted) {
      const answer = await call(base, "setup", "GET", `/v1/runs/${runId}`, { key: admin });
      const lastSeq = (JSON.parse(answer.body) as { lastSeq?: number }).lastSeq;
      if (lastSeq !== stored) mismatched += 1;
    }
    const perRoute = Object.fromEntries(
      [...routes]
        .filter(([route]) => route !== "setup")
        .map(([route, { latencies, errors }]) => {
          const sorted = [...latencies].sort((a, b) => a - b);
          return [
            route,
            {
              requests: sorted.length,
              p50Ms: Number(percentile(sorted, 0.5).toFixed(2)),
              p99Ms: Number(percentile(sorted, 0.99).toFixed(2)),
              errors: Object.fromEntries(errors),
            },
          ];
        }),
    );
    const delays = deliveryDelays.sort((a, b) => a - b);
    const summary = {
      ...resultStamp(["npm run bench:fleet", ...commandArgs()].join(" ")),
      workers: WORKERS,
      watchers: WATCHERS,
      watchersConnected: connected,
      seconds: Number(seconds.toFixed(1)),
      checkpointBytes: CHECKPOINT_BYTES,
      eventsPerSecond: Number((counters.eventsAccepted / seconds).toFixed(0)),
      ...counters,
      runsWhoseLogDiffers: mismatched,
      sseDeliveryP50Ms: Number(percentile(delays, 0.5).toFixed(1)),
      sseDeliveryP99Ms: Number(percentile(delays, 0.99).toFixed(1)),
      serverPeakRssMiB: Number(peakServerRss.toFixed(0)),
      clientRssMiB: Number((process.memoryUsage().rss / 2 ** 20).toFixed(0)),
      clientEventLoopDelayP99Ms: Number((lag.percentile(99) / 1e6).toFixed(1)),
      perRoute,
    };
    console.log(JSON.stringify(summary, null, 2));
    if (args.out) {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(args.out, `${JSON.stringify(summary, null, 2)}\n`);
    }
  } finally {
    agent.destroy();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The arguments this run was given, less where its summary went: `-- …` for the command line. */
function commandArgs(): string[] {
  const given = process.argv.slice(2);
  const kept = given.filter(
    (arg, i) => arg !== "--out" && given[i - 1] !== "--out" && !arg.startsWith("--out="),
  );
  return kept.length > 0 ? ["--", ...kept] : [];
}

await main();
