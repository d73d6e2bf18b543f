import type { FromTrainer, ToTrainer, TrainerJob } from "../dispatch/protocol.ts";

/**
 * A trainer process (started by src/worker/trainer-process.ts): runs one attempt of one run and
 * sends every event, with its replay key, to its host over IPC. It only trains; the database,
 * the HTTP loop and the leases stay with the host, which outlives whatever happens here.
 */
if (!process.send) throw new Error("trainer-child.ts runs only as a child process with an IPC channel");
// Once the host is gone the channel is closed, and a send would throw: the process exits then anyway.
const send = (message: FromTrainer) => {
  if (process.connected) process.send?.(message);
};

/** While idle (set-up, an evaluation that yields), the host still hears from us this often. */
const HEARTBEAT_MS = 1_000;

// From the first moment: loading the trainer's modules (tfjs, the WASM backend) takes seconds,
// and a host that heard nothing would take it for a hang.
const heartbeat = setInterval(() => send({ type: "progress" }), HEARTBEAT_MS);
heartbeat.unref();
send({ type: "progress" });

const controller = new AbortController();
const pause = new AbortController();
const job = await new Promise<TrainerJob>((resolve) => {
  process.on("message", (message: ToTrainer) => {
    if (message.type === "start") resolve(message.job);
    else if (message.type === "cancel") controller.abort();
    else if (message.type === "pause") pause.abort();
  });
});
if (job.cancelled) controller.abort();
if (job.paused) pause.abort();
// The host stops us with SIGTERM (shutdown, a lost lease): exit at the next turn of the event
// loop, which is a step boundary (betweenSteps below), not inside a checkpoint write.
process.on("SIGTERM", () => process.exit(143));
// The host is gone (killed): nobody would read what this attempt produces.
process.on("disconnect", () => process.exit(1));
// Loaded after the heartbeat started (see above).
const [
  { DirectoryCheckpointStore },
  { runTraining, TrainingFailure, TrainingPaused },
  files,
  faults,
  replay,
] = await Promise.all([
  import("../train/checkpoint.ts"),
  import("../train/run.ts"),
  import("./checkpoint-files.ts"),
  import("./fault-injection.ts"),
  import("./replay-key.ts"),
]);
const { discardCheckpointsAfter } = files;
const { injectedFault } = faults;
const { ReplayKeys } = replay;

const fault = injectedFault(job.attempt);
const keys = new ReplayKeys();
let crashed: string | null = null;
try {
  await discardCheckpointsAfter(job.checkpointDir, job.resumeEpoch);
  await runTraining(job.spec, {
    arm: job.arm,
    seed: job.seed,
    signal: controller.signal,
    pause: pause.signal,
    // One macrotask per step: IPC messages and signals are handled here, between steps.
    betweenSteps: () => new Promise((resolve) => setImmediate(resolve)),
    checkpoints: new DirectoryCheckpointStore(job.checkpointDir),
    onEvent: (event) => {
      send({ type: "event", event, replayKey: keys.next(event) });
      fault?.afterEvent(event);
    },
    onProgress: () => {
      send({ type: "progress" });
      fault?.afterStep();
    },
    ...(job.backend ? { backend: job.backend } : {}),
    ...(job.cacheDir ? { cacheDir: job.cacheDir } : {}),
  });
} catch (error) {
  if (error instanceof TrainingPaused) {
    // Its checkpoint is saved (and reported); the run is not over, so runTraining reports nothing more.
    const event = { type: "run.paused" as const, epoch: error.epoch, step: error.step };
    send({ type: "event", event, replayKey: keys.next(event) });
  } else if (!(error instanceof TrainingFailure)) {
    // A TrainingFailure has already been reported as run.failed; anything else is a crash.
    crashed = error instanceof Error ? error.message : String(error);
  }
}
clearInterval(heartbeat);
// Exit once the last message is on its way; tfjs' handles would keep the process alive otherwise.
process.send({ type: "finished", crashed } satisfies FromTrainer, () => process.exit(0));
