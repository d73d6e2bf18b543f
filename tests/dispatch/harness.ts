import { EventEmitter } from "node:events";
import { asc, eq } from "drizzle-orm";
import { afterEach } from "vitest";
import type { Db } from "../../db/database.ts";
import { createExperiment } from "../../db/experiments.ts";
import { runEvents } from "../../db/schema.ts";
import { openDatabase } from "../../db/sqlite.ts";
import { parseSpec } from "../../src/core/spec.ts";
import { Dispatcher, type DispatcherOptions } from "../../src/dispatch/dispatcher.ts";
import type { FromTrainer, ToTrainer, TrainerHandle, TrainerJob } from "../../src/dispatch/protocol.ts";
import { InMemoryEventHub } from "../../src/events/hub.ts";
import { StoredEventSink } from "../../src/events/sink.ts";
import { ReplayKeys } from "../../src/worker/replay-key.ts";
import { type FakeEvent, queuedRunRow, tinySpec } from "../../support/fixtures.ts";

/** A trainer the test drives by hand; like the real one, it names each event's replay key. */
export class FakeThread extends EventEmitter implements TrainerHandle {
  readonly received: ToTrainer[] = [];
  terminated = false;
  private readonly keys = new ReplayKeys();
  constructor(readonly job: TrainerJob) {
    super();
  }
  postMessage(message: ToTrainer): void {
    this.received.push(message);
  }
  /** Stopped or killed by its host: it exits on the next turn, as a process would. */
  stop(): void {
    this.exit(null, "SIGTERM");
  }
  kill(): void {
    this.exit(null, "SIGKILL");
  }
  /** Ends on its own, with this exit code or signal. */
  exit(code: number | null = 0, signal: string | null = null): void {
    if (!this.terminated) setImmediate(() => this.emit("exit", code, signal));
    this.terminated = true;
  }
  send(event: FakeEvent): void {
    this.emit("message", { type: "event", event, replayKey: this.keys.next(event) } satisfies FromTrainer);
  }
  /** Reports the end of its training and exits, as the real trainer does. */
  finish(crashed: string | null = null): void {
    this.emit("message", { type: "finished", crashed } satisfies FromTrainer);
    this.exit(0);
  }
}

const closers: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  // Newest first: the dispatchers stop before their database closes.
  for (const close of closers.splice(0).reverse()) await close();
});

export const LEASE_MS = 1_000;

/** One database with queued runs, and a factory of dispatchers over it sharing a hand-moved clock. */
export async function setup(
  options: { runs?: number; maxAttempts?: number; concurrency?: number; spec?: Record<string, unknown> } = {},
) {
  const database = openDatabase(":memory:");
  closers.push(database.close);
  const db = database.db;
  const ids = Array.from({ length: options.runs ?? 1 }, (_, i) => `run_${i}`);
  await createExperiment(db, {
    experiment: { id: "exp_1", name: "e", spec: parseSpec(options.spec ?? tinySpec()), createdAt: 1 },
    runs: ids.map((id, position) => queuedRunRow(id, position)),
    stages: [],
  });
  const threads: FakeThread[] = [];
  let now = 1_000_000;
  const clock = () => now;
  const sink = new StoredEventSink(db, new InMemoryEventHub(), clock);
  const dispatchers: Dispatcher[] = [];
  closers.push(async () => {
    await Promise.all(dispatchers.map((d) => d.stop()));
  });
  const make = (overrides: Partial<DispatcherOptions> = {}) => {
    const dispatcher = new Dispatcher({
      db,
      sink,
      concurrency: options.concurrency ?? 1,
      maxAttempts: options.maxAttempts ?? 3,
      dataDir: "/tmp/autoprog-test",
      leaseMs: LEASE_MS,
      clock,
      startTrainer: (job) => {
        const thread = new FakeThread(job);
        threads.push(thread);
        return thread;
      },
      ...overrides,
    });
    dispatchers.push(dispatcher);
    return dispatcher;
  };
  return {
    db,
    sink,
    threads,
    make,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

export const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

export async function eventLog(db: Db, runId: string) {
  const rows = await db
    .select({
      seq: runEvents.seq,
      type: runEvents.type,
      attempt: runEvents.attempt,
      payload: runEvents.payload,
    })
    .from(runEvents)
    .where(eq(runEvents.runId, runId))
    .orderBy(asc(runEvents.seq));
  return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as Record<string, unknown> }));
}
