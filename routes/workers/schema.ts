import { z } from "@hono/zod-openapi";
import { TrainingEventSchema } from "../../src/core/events.ts";

/** The header that carries a lease token on the checkpoint routes (their body is the checkpoint). */
export const LEASE_TOKEN_HEADER = "autoprog-lease-token";

/** The most events one batch may carry. */
export const MAX_EVENTS_PER_BATCH = 500;

/** How long a lease request may wait for a queued run. */
export const MAX_LEASE_WAIT_SECONDS = 30;

const LeaseToken = z.string().min(1).max(128).openapi({
  description: "The lease token from `POST /v1/workers/lease`: only its holder may act on the run.",
});

const RunId = z.string().min(1).max(64).openapi({ example: "run_01hzx3k8q4tqkz3w5v9b2m7n6c" });

export const LeaseRequestSchema = z
  .object({
    worker: z.string().min(1).max(200).openapi({ description: "The worker's name, for logs." }),
    wait: z.number().int().min(0).max(MAX_LEASE_WAIT_SECONDS).default(0).openapi({
      description: "Seconds to wait for a queued run (long poll) before answering 204.",
    }),
  })
  .openapi("LeaseRequest");

export const LeaseSchema = z
  .object({
    token: LeaseToken,
    expiresAt: z.iso.datetime(),
    seconds: z.number().openapi({ description: "The lease's length: heartbeat well within it (a third)." }),
  })
  .openapi("Lease");

export const WorkerLeaseSchema = z
  .object({
    run: z.object({
      id: RunId,
      experimentId: z.string(),
      attempt: z.number().int().openapi({ description: "This attempt's number, from 1." }),
      arm: z.string().openapi({ description: "The arm's label within the spec." }),
      seed: z.number().int(),
    }),
    spec: z.record(z.string(), z.unknown()).openapi({
      description:
        "The experiment spec. A relative `dataset.root` is relative to the worker's own data folder.",
    }),
    checkpoint: z
      .object({
        epoch: z.number().int().openapi({ description: "Epochs the checkpoint covers." }),
        url: z.string().openapi({ description: "Its path on this API (`GET` it with the lease token)." }),
      })
      .nullable()
      .openapi({
        description: "The newest checkpoint the run's log names: resume from it. Null: start afresh.",
      }),
    lease: LeaseSchema,
  })
  .openapi("WorkerLease");

export const HeartbeatRequestSchema = z
  .object({ runId: RunId, token: LeaseToken })
  .openapi("HeartbeatRequest");

const Action = z.enum(["continue", "cancel", "pause"]).openapi({
  description:
    "`cancel`: someone cancelled the run; stop at the next step and report `run.failed` (cancelled). " +
    "`pause`: someone paused it; stop at the next step boundary, upload the checkpoint saved there, " +
    "and report `checkpoint.saved` then `run.paused`, which ends the lease.",
});

export const HeartbeatSchema = z.object({ action: Action, expiresAt: z.iso.datetime() }).openapi("Heartbeat");

export const ReleaseRequestSchema = z.object({ runId: RunId, token: LeaseToken }).openapi("ReleaseRequest");

export const ReleasedSchema = z
  .object({
    released: z.boolean().openapi({ description: "False: the lease was not this token's any more." }),
  })
  .openapi("Released");

const EventEntrySchema = z.object({
  seq: z.number().int().min(0).openapi({ description: "The worker's own counter in this attempt, from 0." }),
  event: TrainingEventSchema.meta({ id: "TrainingEvent" }),
  replayKey: z
    .string()
    .min(1)
    .max(200)
    .nullable()
    .openapi({
      description:
        "The event's place in the attempt (`type@epoch#n`; `checkpoint.saved@epoch:step`); null for " +
        "`run.started`, `run.failed`, `attempt.failed` and `run.paused`.",
    }),
});

export const EventBatchSchema = z
  .object({
    token: LeaseToken,
    events: z.array(EventEntrySchema).min(1).max(MAX_EVENTS_PER_BATCH),
  })
  .openapi("EventBatch");

export const EventBatchResultSchema = z
  .object({
    accepted: z.number().int().openapi({ description: "Events stored now." }),
    duplicates: z.number().int().openapi({ description: "Events stored by an earlier try of the batch." }),
    action: Action,
  })
  .openapi("EventBatchResult");

export const CheckpointParamsSchema = z.object({
  id: RunId.openapi({ param: { name: "id", in: "path" } }),
  // A string in the path, read as a number by the handler (a coerced number would be optional here).
  epoch: z
    .string()
    .regex(/^\d{1,9}$/, "must be a whole number of epochs")
    .openapi({
      param: { name: "epoch", in: "path" },
      description: "Epochs the checkpoint covers.",
      example: "3",
    }),
});

export const LeaseTokenHeaderSchema = z.object({
  [LEASE_TOKEN_HEADER]: LeaseToken.openapi({ param: { name: LEASE_TOKEN_HEADER, in: "header" } }),
});

export const OptionalLeaseTokenHeaderSchema = z.object({
  [LEASE_TOKEN_HEADER]: LeaseToken.optional().openapi({
    param: { name: LEASE_TOKEN_HEADER, in: "header" },
    description: "Required for `worker` keys: the lease token of the run.",
  }),
});

export const CheckpointBodySchema = z.string().openapi({
  format: "binary",
  description:
    'One epoch checkpoint: `"APC1"`, the meta length (uint32, big-endian), the meta JSON, then the tensor data.',
});
