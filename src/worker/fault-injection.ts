import type { TrainingEvent } from "../core/events.ts";

/**
 * Test-only: real faults in a trainer process, to show that they end that attempt only.
 * `AUTOPROG_TEST_TRAINER_FAULT=<kind>[:<attempts>]` makes the trainer, at the first step after
 * its first `checkpoint.saved`, do one of:
 * - `abort`: process.abort() (SIGABRT, as a native FATAL ERROR does),
 * - `kill`: SIGKILL itself (as the out-of-memory killer does),
 * - `hang`: block its thread for good (no step, no heartbeat, no message handled).
 * `<attempts>` is a comma-separated list of the attempts that fault (default: every attempt).
 * Unset, nothing changes.
 */
export const FAULT_VARIABLE = "AUTOPROG_TEST_TRAINER_FAULT";

export type FaultKind = "abort" | "kill" | "hang";

export interface Fault {
  afterEvent(event: TrainingEvent): void;
  afterStep(): void;
}

export function injectedFault(attempt: number, value = process.env[FAULT_VARIABLE]): Fault | null {
  if (!value) return null;
  const [kind, attempts] = value.split(":");
  if (kind !== "abort" && kind !== "kill" && kind !== "hang") {
    throw new Error(`${FAULT_VARIABLE}: unknown fault ${kind}`);
  }
  if (attempts && !attempts.split(",").map(Number).includes(attempt)) return null;
  let armed = false;
  return {
    afterEvent(event) {
      if (event.type === "checkpoint.saved") armed = true;
    },
    afterStep() {
      if (armed) strike(kind);
    },
  };
}

function strike(kind: FaultKind): void {
  if (kind === "abort") process.abort();
  if (kind === "kill") process.kill(process.pid, "SIGKILL");
  // Sleeps on a futex nobody wakes: no CPU, no event loop, no IPC.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
