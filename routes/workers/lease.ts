import type { OpenAPIHono, z } from "@hono/zod-openapi";
import { getExperiment } from "../../db/experiments.ts";
import { claimRun } from "../../db/queue.ts";
import { type RunRow, trainingSpecOf } from "../../db/runs.ts";
import { sleep } from "../../src/kit/sleep.ts";
import type { AppEnv } from "../../src/services.ts";
import { WORKERS } from "../common/access.ts";
import { defineRoute } from "../common/route.ts";
import { newLeaseToken, workerSettings } from "./lease-state.ts";
import { LeaseRequestSchema, WorkerLeaseSchema } from "./schema.ts";

export const leaseRunRoute = defineRoute({
  method: "post",
  operationId: "leaseRun",
  path: "/v1/workers/lease",
  access: WORKERS,
  tags: ["workers"],
  summary: "Lease the next queued run of the key's project (pull workers; `worker` keys only)",
  description:
    "Answers the run, its spec, the checkpoint to resume from and a lease. Keep the lease with " +
    "`POST /v1/workers/heartbeat` (or event batches) well within `lease.seconds`; an expired lease " +
    "re-queues the run from its last checkpoint. With `wait`, the request waits up to that many " +
    "seconds for a run to be queued, then answers 204. A project already running " +
    "`AUTOPROG_PROJECT_MAX_RUNNING` runs gets none until one ends.",
  request: { body: { content: { "application/json": { schema: LeaseRequestSchema } }, required: true } },
  responses: {
    200: { description: "A run, leased", content: { "application/json": { schema: WorkerLeaseSchema } } },
    204: { description: "Nothing was queued within `wait`" },
  },
});

export function registerLeaseRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(leaseRunRoute, async (c) => {
    const { wait } = c.req.valid("json");
    const { db, clock } = c.get("services");
    const { leaseMs, pollMs } = workerSettings(c);
    const signal = c.req.raw.signal;
    // Real time, not the service clock: the wait is the client's, and a test clock stands still.
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const token = newLeaseToken();
      const now = clock();
      const run = await claimRun(db, {
        owner: token,
        now,
        leaseMs,
        projectId: c.get("projectId"),
        projectMaxRunning: c.get("services").queuePolicy?.projectMaxRunning ?? null,
      });
      if (run) return c.json(await grantOf(c.get("services").db, run, token, now + leaseMs, leaseMs), 200);
      // The queue is polled (it works on D1 too); a client that hung up stops the wait.
      if (signal.aborted || Date.now() + pollMs > deadline) return c.body(null, 204);
      await sleep(pollMs, signal);
    }
  });
}

async function grantOf(
  db: Parameters<typeof getExperiment>[0],
  run: RunRow,
  token: string,
  expiresAt: number,
  leaseMs: number,
): Promise<z.infer<typeof WorkerLeaseSchema>> {
  const experiment = await getExperiment(db, run.experimentId);
  // The foreign key keeps the experiment while it has runs.
  if (!experiment) throw new Error(`run ${run.id} has no experiment ${run.experimentId}`);
  return {
    run: { id: run.id, experimentId: run.experimentId, attempt: run.attempt, arm: run.label, seed: run.seed },
    spec: trainingSpecOf(run, experiment) as Record<string, unknown>,
    checkpoint:
      run.checkpointEpoch === null
        ? null
        : { epoch: run.checkpointEpoch, url: `/v1/runs/${run.id}/checkpoints/${run.checkpointEpoch}` },
    lease: { token, expiresAt: new Date(expiresAt).toISOString(), seconds: leaseMs / 1000 },
  };
}
