import { Worker } from "node:worker_threads";
import type { StartTrainer, ToTrainer, TrainerJob, TrainerThread } from "../dispatch/protocol.ts";

/** The job as the thread receives it: with the shared cancel flag. */
export interface ThreadJob extends TrainerJob {
  /** One Int32: 1 once the run is cancelled. Shared memory, so the thread sees it between steps. */
  readonly cancelFlag: SharedArrayBuffer;
}

export function isCancelFlagSet(flag: SharedArrayBuffer): boolean {
  return Atomics.load(new Int32Array(flag), 0) === 1;
}

/**
 * The worker-thread transport: one thread per attempt, started through an entry that
 * registers tsx so thread.ts runs as TypeScript. A cancel sets the shared flag as well as
 * posting the message.
 */
export const startTrainerThread: StartTrainer = (job: TrainerJob): TrainerThread => {
  const cancelFlag = new SharedArrayBuffer(4);
  const threadJob: ThreadJob = { ...job, cancelFlag };
  const worker = new Worker(new URL("./trainer-thread.mjs", import.meta.url), { workerData: threadJob });
  const postMessage = worker.postMessage.bind(worker);
  return Object.assign(worker, {
    postMessage(message: ToTrainer) {
      if (message.type === "cancel") Atomics.store(new Int32Array(cancelFlag), 0, 1);
      postMessage(message);
    },
  });
};
