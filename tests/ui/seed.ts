import type { TrainingEvent } from "../../src/core/events.ts";
import { epochCompleted, runCompleted, runStarted, stageStarted, tinySpec } from "../../support/fixtures.ts";
import { SERVER_KEY } from "../../support/server-process.ts";

/**
 * Experiments for the dashboard's browser tests without training anything: the server runs
 * with `AUTOPROG_DISPATCH=workers`, and this file plays the pull worker (`/v1/workers/lease`,
 * `/v1/runs/{id}/events`) with synthetic events, so runs complete in milliseconds with known
 * stages and metrics. What the pages draw is then the API's own answer to those events.
 */
const operator = { authorization: `Bearer ${SERVER_KEY}`, "content-type": "application/json" };

async function call<T>(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<T> {
  const response = await fetch(url, { method, headers, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export interface SeededRun {
  readonly id: string;
  readonly experimentId: string;
  readonly label: string;
  readonly stageStarts: readonly number[];
}

export interface Seeded {
  readonly alpha: { readonly id: string; readonly runs: readonly SeededRun[] };
  readonly beta: { readonly id: string; readonly runs: readonly SeededRun[] };
  /** Seed 0 is running with one epoch done; seed 1 is queued. */
  readonly gamma: { readonly id: string; readonly running: string; readonly queued: string };
  readonly epochs: number;
}

const EPOCHS = 4;

/** A run's events: a one-stage `original`, or a `prog` run grown at epoch 2; each run learns at its own pace. */
function eventsOf(kind: "original" | "prog", pace: number): TrainingEvent[] {
  const stages =
    kind === "prog"
      ? [stageStarted(0, 1, 14, 0), stageStarted(1, 2, 28, 2)]
      : [{ ...stageStarted(0, 2, 28, 0), epochs: EPOCHS }];
  const epoch = (e: number): TrainingEvent => ({
    ...epochCompleted(e, 0.4 + pace * (e + 1) * 0.1),
    epochSeconds: kind === "prog" && e < 2 ? 0.5 : 1,
    imagesPerSecond: kind === "prog" && e < 2 ? 256 : 128,
  });
  const [first, second] = stages;
  return [
    runStarted(0, EPOCHS),
    ...(first ? [first] : []),
    epoch(0),
    epoch(1),
    ...(second ? [second] : []),
    epoch(2),
    epoch(3),
    runCompleted({ top1: 0.4 + pace * 0.4, trainSeconds: kind === "prog" ? 3 : 4 }),
  ];
}

async function workerKey(url: string): Promise<Record<string, string>> {
  const created = await call<{ key: string }>(
    `${url}/v1/keys`,
    "POST",
    { role: "worker", name: "browser-test-worker" },
    operator,
  );
  return { authorization: `Bearer ${created.key}`, "content-type": "application/json" };
}

async function submit(url: string, name: string, arms: readonly object[], seeds: readonly number[]) {
  const spec = tinySpec({
    name,
    seeds,
    arms,
    training: { ...tinySpec().training, epochs: EPOCHS, stages: 2 },
  });
  return call<{ id: string; runs: { id: string; label: string }[] }>(
    `${url}/v1/experiments`,
    "POST",
    spec,
    operator,
  );
}

/** Leases the next queued run and sends its whole life (or its first `upTo` events) as one batch. */
async function train(
  url: string,
  worker: Record<string, string>,
  pace: number,
  upTo?: number,
): Promise<string> {
  const grant = await call<{ run: { id: string; arm: string }; lease: { token: string } }>(
    `${url}/v1/workers/lease`,
    "POST",
    { worker: "browser-test", wait: 0 },
    worker,
  );
  const kind = grant.run.arm === "prog" ? "prog" : "original";
  const events = eventsOf(kind, pace)
    .slice(0, upTo)
    .map((event, seq) => ({
      seq,
      event,
      replayKey: event.type === "run.started" ? null : `${event.type}@${seq}#0`,
    }));
  await call(`${url}/v1/runs/${grant.run.id}/events`, "POST", { token: grant.lease.token, events }, worker);
  return grant.run.id;
}

export async function seed(url: string): Promise<Seeded> {
  const worker = await workerKey(url);
  // Three seeds per arm: the report's widest cells (a chip per seed) are the ones that overflowed.
  const alpha = await submit(url, "alpha", [{ arm: "original" }, { arm: "prog" }], [0, 1, 2]);
  const beta = await submit(url, "beta", [{ arm: "prog" }], [0]);
  // Leased oldest first: alpha's runs, then beta's.
  for (const pace of [0.5, 0.55, 0.45, 0.9, 0.85, 0.95, 0.7]) await train(url, worker, pace);
  const gamma = await submit(url, "gamma", [{ arm: "original" }], [0, 1]);
  // run.started, its stage and epoch 0: running, one point on each curve.
  const running = await train(url, worker, 0.5, 3);
  const queued = gamma.runs.find((r) => r.id !== running)?.id ?? "";
  const runsOf = (e: { id: string; runs: { id: string; label: string }[] }) =>
    e.runs.map((r) => ({
      id: r.id,
      experimentId: e.id,
      label: r.label,
      stageStarts: r.label === "prog" ? [0, 2] : [0],
    }));
  return {
    alpha: { id: alpha.id, runs: runsOf(alpha) },
    beta: { id: beta.id, runs: runsOf(beta) },
    gamma: { id: gamma.id, running, queued },
    epochs: EPOCHS,
  };
}
