import { parentPort, workerData } from "node:worker_threads";
import type { FromTrainer, ToTrainer } from "../dispatch/protocol.ts";
import { DirectoryCheckpointStore } from "../train/checkpoint.ts";
import { runTraining, TrainingFailure } from "../train/run.ts";
import { discardCheckpointsAfter } from "./checkpoint-files.ts";
import { ReplayKeys } from "./replay-key.ts";
import { isCancelFlagSet, type ThreadJob } from "./start.ts";

/**
 * A trainer thread: runs one attempt of one run and posts every event, with its replay key, to
 * the dispatcher. The thread only trains; the database and the HTTP loop stay on the main thread.
 */
const port = parentPort;
if (!port) throw new Error("thread.ts runs only as a worker thread");
const job = workerData as ThreadJob;
const post = (message: FromTrainer) => port.postMessage(message);

const controller = new AbortController();
const checkCancel = () => {
  if (!controller.signal.aborted && (job.cancelled || isCancelFlagSet(job.cancelFlag))) controller.abort();
};
checkCancel();
// The step loop rarely yields to this thread's event loop, so a posted cancel would wait for
// the epoch's end; the shared flag is read after every step instead.
port.on("message", (message: ToTrainer) => {
  if (message.type === "cancel") controller.abort();
});

const keys = new ReplayKeys();
let crashed: string | null = null;
try {
  await discardCheckpointsAfter(job.checkpointDir, job.resumeEpoch);
  await runTraining(job.spec, {
    arm: job.arm,
    seed: job.seed,
    signal: controller.signal,
    checkpoints: new DirectoryCheckpointStore(job.checkpointDir),
    onEvent: (event) => post({ type: "event", event, replayKey: keys.next(event) }),
    onProgress: () => {
      checkCancel();
      post({ type: "progress" });
    },
    ...(job.backend ? { backend: job.backend } : {}),
    ...(job.cacheDir ? { cacheDir: job.cacheDir } : {}),
  });
} catch (error) {
  // A TrainingFailure has already been reported as run.failed; anything else is a crash.
  if (!(error instanceof TrainingFailure)) crashed = error instanceof Error ? error.message : String(error);
}
post({ type: "finished", crashed });
