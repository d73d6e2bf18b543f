import * as tf from "@tensorflow/tfjs";
import { armCost } from "../core/run-cost.ts";
import type { ArmSpec, ExperimentSpec } from "../core/spec.ts";

/**
 * Stops a trainer whose tensors grow far past the run's estimate (src/core/run-cost.ts) with a
 * clear `out_of_memory` failure, before it takes the machine's memory (and its neighbours') with
 * it. The API refuses specs past the server's ceiling by the same estimate; this catches what
 * the estimate missed — a leak, a backend that keeps more than we count. Reading
 * `tf.memory().numBytes` is a counter lookup, so it costs nothing next to a step.
 */

/** The margin over the estimate: twice it, plus room for small models' fixed costs. */
export const MEMORY_GUARD_FACTOR = 2;
export const MEMORY_GUARD_SLACK_BYTES = 256e6;
/** Steps between two looks (the first step of every epoch is always looked at). */
export const MEMORY_CHECK_EVERY_STEPS = 10;

export interface MemoryGuard {
  readonly estimateBytes: number;
  readonly limitBytes: number;
}

/** The guard of one arm's run; `limitBytes` overrides the margin (tests, operators). */
export function memoryGuardFor(spec: ExperimentSpec, arm: ArmSpec, limitBytes?: number): MemoryGuard {
  const estimateBytes = armCost(spec, arm).memory.bytes;
  return {
    estimateBytes,
    limitBytes: limitBytes ?? MEMORY_GUARD_FACTOR * estimateBytes + MEMORY_GUARD_SLACK_BYTES,
  };
}

/** Null while the run's tensors are within the limit, else why the run must stop. */
export function memoryExceeded(guard: MemoryGuard, heldBytes = tf.memory().numBytes): string | null {
  if (heldBytes <= guard.limitBytes) return null;
  const gb = (bytes: number) => `${(bytes / 1e9).toPrecision(3)} GB`;
  return (
    `the trainer held ${gb(heldBytes)} of tensors, past its limit of ${gb(guard.limitBytes)} ` +
    `(the run's estimate is ${gb(guard.estimateBytes)}); stopped before it exhausts the machine's memory`
  );
}
