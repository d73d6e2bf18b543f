import { parentPort, workerData } from "node:worker_threads";
import { DirectoryCheckpointStore } from "../train/checkpoint.ts";
import { runTraining, TrainingFailure } from "../train/run.ts";
import type { FromTrainer, ToTrainer, TrainerJob } from "./protocol.ts";

/**
 * A trainer thread: runs one attempt of one run and posts every event to the dispatcher. The
 * thread only trains; the database and the HTTP loop stay on the main thread.
 */
const port = parentPort;
if (!port) throw new Error("worker.ts runs only as a worker thread");
const job = workerData as TrainerJob;
const post = (message: FromTrainer) => port.postMessage(message);

const controller = new AbortController();
if (job.cancelled) controller.abort();
port.on("message", (message: ToTrainer) => {
  if (message.type === "cancel") controller.abort();
});

let crashed: string | null = null;
try {
  await runTraining(job.spec, {
    arm: job.arm,
    seed: job.seed,
    signal: controller.signal,
    checkpoints: new DirectoryCheckpointStore(job.checkpointDir),
    onEvent: (event) => post({ type: "event", event }),
    ...(job.backend ? { backend: job.backend } : {}),
    ...(job.cacheDir ? { cacheDir: job.cacheDir } : {}),
  });
} catch (error) {
  // A TrainingFailure has already been reported as run.failed; anything else is a crash.
  if (!(error instanceof TrainingFailure)) crashed = error instanceof Error ? error.message : String(error);
}
post({ type: "finished", crashed });
