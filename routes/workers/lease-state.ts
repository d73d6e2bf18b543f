import type { Context } from "hono";
import { extendLease } from "../../db/queue.ts";
import { isRunInProject } from "../../db/runs.ts";
import { DEFAULT_LEASE_MS } from "../../src/dispatch/queue.ts";
import { randomToken } from "../../src/kit/crypto.ts";
import type { AppEnv, UploadedCheckpointStore, WorkerServices } from "../../src/services.ts";
import { notFound, ProblemError } from "../common/problem.ts";

/** The defaults where a runtime wires no worker settings (the default lease, no checkpoint store). */
export const WORKER_DEFAULTS: WorkerServices = {
  leaseMs: DEFAULT_LEASE_MS,
  checkpoints: null,
  maxCheckpointBytes: 256 * 1024 * 1024,
  pollMs: 250,
};

export const workerSettings = (c: Pick<Context<AppEnv>, "get">): WorkerServices =>
  c.get("services").workers ?? WORKER_DEFAULTS;

/** A lease token: the lease's owner in the queue, random and unguessable, so only its holder acts. */
export const newLeaseToken = (): string => randomToken("lt_", 24);

export interface HeldLease {
  readonly attempt: number;
  readonly cancelRequested: boolean;
  readonly pauseRequested: boolean;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/**
 * Extends the lease of a run of the caller's project when `token` holds it (every sign of life
 * does): 404 for another project's run, 409 `lease_lost` when the token no longer holds it
 * (expired and re-queued, handed back, or the run ended).
 */
export async function holdLease(c: Context<AppEnv>, runId: string, token: string): Promise<HeldLease> {
  const { db, clock } = c.get("services");
  if (!(await isRunInProject(db, runId, c.get("projectId")))) throw notFound("run", runId);
  const { leaseMs } = workerSettings(c);
  const now = clock();
  const lease = await extendLease(db, { runId, owner: token, now, leaseMs });
  if (!lease.held) throw new ProblemError("lease_lost", `this token no longer holds run ${runId}'s lease`);
  return {
    attempt: lease.attempt,
    cancelRequested: lease.cancelRequested,
    pauseRequested: lease.pauseRequested,
    expiresAt: now + leaseMs,
  };
}

/** What the lease's holder is told to do next (a cancel outranks a pause). */
export const leaseAction = (lease: HeldLease): "continue" | "cancel" | "pause" =>
  lease.cancelRequested ? "cancel" : lease.pauseRequested ? "pause" : "continue";

export function checkpointStoreOf(c: Pick<Context<AppEnv>, "get">): UploadedCheckpointStore {
  const store = workerSettings(c).checkpoints;
  if (!store)
    throw new ProblemError("checkpoint_store_unavailable", "this server has no checkpoint store bound");
  return store;
}

/** `PUT /v1/runs/{id}/checkpoints/{epoch}`: its body is a checkpoint, not JSON, and may be large. */
export const isCheckpointUpload = (c: Context) =>
  c.req.method === "PUT" && /^\/v1\/runs\/[^/]+\/checkpoints\/[^/]+$/.test(c.req.path);
