import { describe, expect, it } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import { type AttemptInput, exitReason, TrainerAttempt, trainerJob } from "../../src/dispatch/attempt.ts";
import type { TrainerJob } from "../../src/dispatch/protocol.ts";
import { fatalLine } from "../../src/worker/trainer-process.ts";
import { runStarted, tinySpec } from "../../support/fixtures.ts";
import { FakeThread } from "../dispatch/harness.ts";

/** A trainer that ignores SIGTERM and cancels (stuck in native code): only SIGKILL ends it. */
class DeafThread extends FakeThread {
  readonly signals: string[] = [];
  override stop(): void {
    this.signals.push("SIGTERM");
  }
  override kill(): void {
    this.signals.push("SIGKILL");
    super.kill();
  }
}

const input = (overrides: Partial<AttemptInput> = {}): AttemptInput => ({
  runId: "run_1",
  attempt: 1,
  arm: "original",
  seed: 0,
  storedSpec: tinySpec(),
  dataDir: "/srv/data",
  checkpointDir: "/srv/data/runs/run_1/checkpoints",
  resumeEpoch: null,
  backend: null,
  cacheDir: null,
  cancelled: false,
  paused: false,
  ...overrides,
});

function jobOf(overrides: Partial<AttemptInput> = {}): TrainerJob {
  const built = trainerJob(input(overrides));
  if (!("job" in built)) throw new Error(built.problem);
  return built.job;
}

function start(thread: FakeThread, options: { graceMs?: number; silenceMs?: number } = {}) {
  const events: TrainingEvent[] = [];
  const attempt = new TrainerAttempt(thread.job, {
    startTrainer: () => thread,
    graceMs: options.graceMs ?? 50,
    silenceMs: options.silenceMs ?? 60_000,
    onEvent: (event) => events.push(event),
  });
  return { attempt, events };
}

describe("trainerJob: the stored spec, read one way", () => {
  it("resolves a relative dataset root against the data folder and leaves an absolute one", () => {
    const cifar = (root: string) =>
      tinySpec({
        dataset: { name: "cifar10", root },
        model: { variant: "micro", patchSize: 8, width: 32, depth: 2, heads: 2, mlpRatio: 2 },
      });
    expect(jobOf({ storedSpec: cifar("cifar-10-batches-bin") }).spec.dataset.root).toBe(
      "/srv/data/cifar-10-batches-bin",
    );
    expect(jobOf({ storedSpec: cifar("/datasets/c") }).spec.dataset.root).toBe("/datasets/c");
  });

  it("names the problem when the stored spec no longer parses", () => {
    const built = trainerJob(input({ storedSpec: { ...tinySpec(), training: { epochs: -1 } } }));
    expect(built).toEqual({ problem: expect.stringContaining("the stored spec cannot be read") });
  });
});

describe("TrainerAttempt", () => {
  it("forwards events and reports a clean end", async () => {
    const thread = new FakeThread(jobOf());
    const { attempt, events } = start(thread);
    thread.send(runStarted());
    thread.send({ type: "run.failed", reason: "cancelled", message: "m", epoch: 0, step: 1 });
    thread.finish();
    expect(await attempt.ended).toEqual({ started: true, reported: true, crash: null, outOfMemory: false });
    expect(events.map((e) => e.type)).toEqual(["run.started", "run.failed"]);
  });

  it("kills a cancelled trainer that does not exit within the grace period", async () => {
    const thread = new DeafThread(jobOf());
    const { attempt } = start(thread, { graceMs: 30 });
    thread.send(runStarted());
    attempt.cancel();
    const outcome = await attempt.ended;
    expect(thread.received).toEqual([{ type: "cancel" }]);
    expect(thread.signals).toEqual(["SIGKILL"]);
    expect(outcome.crash).toBe(
      "the trainer did not exit within 0.03 s after it was cancelled; it was killed",
    );
  });

  it("terminate: SIGTERM, then SIGKILL after the grace period; later messages are dropped", async () => {
    const thread = new DeafThread(jobOf());
    const { attempt, events } = start(thread, { graceMs: 30 });
    const ended = attempt.terminate();
    thread.send(runStarted());
    await ended;
    expect(thread.signals).toEqual(["SIGTERM", "SIGKILL"]);
    expect(events).toEqual([]);
  });

  it("kills a trainer that went silent past the silence allowed", async () => {
    const thread = new DeafThread(jobOf());
    const { attempt } = start(thread, { silenceMs: 40 });
    thread.send(runStarted());
    const outcome = await attempt.ended;
    expect(thread.signals).toEqual(["SIGKILL"]);
    expect(outcome).toMatchObject({ started: true, reported: false });
    expect(outcome.crash).toBe("the trainer sent nothing for 0.04 s (it hangs); it was killed");
  });

  it("explains an exit by its signal, with the fatal line the trainer printed", async () => {
    const thread = new FakeThread(jobOf());
    Object.assign(thread, {
      lastWords: () => "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    });
    const { attempt } = start(thread);
    thread.exit(null, "SIGABRT");
    const outcome = await attempt.ended;
    expect(outcome.crash).toMatch(
      /^the trainer process aborted \(SIGABRT.*\): FATAL ERROR: Reached heap limit/,
    );
    expect(outcome.outOfMemory).toBe(true);
    expect(exitReason(null, "SIGKILL")).toContain("SIGKILL");
    expect(exitReason(3, null)).toBe("the trainer process exited with code 3");
    expect(fatalLine("warn: x\n# Fatal error in , line 0\n# check failed\n")).toBe(
      "# Fatal error in , line 0",
    );
    expect(fatalLine("just noise\n")).toBeNull();
  });
});
