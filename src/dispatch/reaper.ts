import type { Db } from "../../db/database.ts";
import type { RunRow } from "../../db/runs.ts";
import type { FailureReason } from "../core/events.ts";
import type { EventSink } from "../events/sink.ts";
import { sqlRunQueue } from "./queue.ts";

/** How a run whose lease expired with no attempt left (or cancelled meanwhile) ends. */
export function expiredRunEnd(run: RunRow): { reason: FailureReason; message: string } {
  return run.cancelRequested
    ? { reason: "cancelled", message: "the run was cancelled" }
    : { reason: "error", message: `interrupted ${run.attempt} times; not trying again` };
}

/**
 * The lease sweep where no dispatcher runs (Cloudflare's cron): runs whose pull worker stopped
 * heartbeating go back to the queue, and those out of attempts (or cancelled meanwhile) end with
 * a reason through the sink, as the embedded dispatcher's sweep does on Node.
 */
export async function reapExpiredLeases(
  db: Db,
  sink: EventSink,
  sweep: { now: number; maxAttempts: number; leaseMs: number },
): Promise<{ requeued: RunRow[]; ended: RunRow[] }> {
  const queue = sqlRunQueue(db, { leaseMs: sweep.leaseMs, maxAttempts: sweep.maxAttempts });
  const { requeued, toEnd } = await queue.sweep(sweep.now);
  for (const run of toEnd) {
    await sink.record(
      run.id,
      run.attempt,
      { type: "run.failed", ...expiredRunEnd(run), epoch: null, step: null },
      null,
    );
  }
  return { requeued, ended: toEnd };
}
