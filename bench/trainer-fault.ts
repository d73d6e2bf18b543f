import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { FAULT_VARIABLE } from "../src/worker/fault-injection.ts";
import { tinySpec } from "../support/fixtures.ts";
import { pollHealth, quantile } from "../support/health-poller.ts";
import { followEvents, getJson, startServer } from "../support/server-process.ts";

/**
 * `npx tsx bench/trainer-fault.ts`: the API's /healthz latency while a trainer process aborts.
 * A real server (child process) trains one small run whose first attempt calls process.abort()
 * after its first checkpoint (AUTOPROG_TEST_TRAINER_FAULT=abort:1); /healthz is polled back to
 * back (20 ms apart) from submission to the run's end. Prints the percentiles over the whole run
 * and over the fault window (from 1 s before the abort was recorded to the second attempt's
 * start). Bounded: one run of 3 small epochs, at most 2 minutes.
 */
const EPOCHS = 3;
const dataDir = await mkdtemp(join(tmpdir(), "autoprog-bench-fault-"));
const server = await startServer(dataDir, { [FAULT_VARIABLE]: "abort:1" });
const deadline = setTimeout(() => {
  console.error("bench/trainer-fault.ts: over 2 minutes; stopping");
  void server.kill().then(() => process.exit(1));
}, 120_000);
try {
  const created = await getJson<{ runs: { id: string }[] }>(`${server.url}/v1/experiments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      tinySpec({
        name: "fault-bench",
        training: { epochs: EPOCHS, batchSize: 32, warmupEpochs: 0, evalBatchSize: 64 },
      }),
    ),
  });
  const runId = created.runs[0]?.id as string;
  const health = pollHealth(server.url);
  const marks: { abortedAt?: number; resumedAt?: number } = {};
  const stream = await followEvents(`${server.url}/v1/runs/${runId}/events`, {
    stop: (messages) => {
      const last = messages.at(-1);
      if (last?.event === "attempt.failed") marks.abortedAt ??= Date.now();
      if (last?.event === "run.started" && marks.abortedAt) marks.resumedAt ??= Date.now();
      return false;
    },
  });
  const record = await health.stop();
  const run = await getJson<{ state: string; attempt: number }>(`${server.url}/v1/runs/${runId}`);
  const all = record.answers.map((a) => a.ms);
  const from = (marks.abortedAt ?? 0) - 1_000;
  const to = marks.resumedAt ?? Number.POSITIVE_INFINITY;
  const window = record.answers.filter((a) => a.at >= from && a.at <= to).map((a) => a.ms);
  const line = (label: string, values: number[]) =>
    `${label}: ${values.length} probes, p50 ${quantile(values, 0.5).toFixed(1)} ms, p99 ${quantile(values, 0.99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;
  console.log(
    `run ${run.state} after ${run.attempt} attempts (stream ended: ${stream.ended}); /healthz failures: ${record.failures.length}`,
  );
  console.log(line("whole run", all));
  console.log(line("fault window (abort −1 s → second attempt's start)", window));
  console.log(
    `load average (1/5/15 min): ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
} finally {
  clearTimeout(deadline);
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
}
