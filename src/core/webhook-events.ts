import { z } from "zod";
import {
  ArchitectureReportSchema,
  FAILURE_REASONS,
  ScoredCandidateSchema,
  type TrainingEvent,
} from "./events.ts";

/**
 * The webhook events: a public, stable subset of the training events, each with its own `data`
 * schema (documented in the OpenAPI `webhooks` section). One function maps a training event to
 * the webhook it causes; the sink writes that message to the outbox in the event's batch.
 */

const runRef = {
  runId: z.string(),
  experimentId: z.string(),
};

export const StageGrownDataSchema = z
  .object({
    ...runRef,
    stage: z.number().int(),
    from: ArchitectureReportSchema,
    to: ArchitectureReportSchema,
    operator: z.string(),
    /** Forward FLOPs per image of one training step, before and after the growth. */
    flopsBefore: z.number(),
    flopsAfter: z.number(),
    /** Training-loop seconds when the growth happened. */
    secondsSoFar: z.number(),
  })
  .meta({ id: "WebhookStageGrownData" });

export const SearchCompletedDataSchema = z
  .object({
    ...runRef,
    stage: z.number().int(),
    winner: z.object({ depth: z.number().int(), side: z.number().int() }),
    selection: z.string(),
    cost: z.enum(["time", "flops"]),
    candidates: z.array(ScoredCandidateSchema).readonly(),
    searchSeconds: z.number(),
  })
  .meta({ id: "WebhookSearchCompletedData" });

export const RunSucceededDataSchema = z
  .object({
    ...runRef,
    arm: z.string(),
    seed: z.number().int(),
    top1: z.number(),
    bestTop1: z.number(),
    epochs: z.number().int(),
    wallSeconds: z.number(),
    trainSeconds: z.number(),
    flopsPerStepMean: z.number(),
    flopsFull: z.number(),
  })
  .meta({ id: "WebhookRunSucceededData" });

export const RunFailedDataSchema = z
  .object({
    ...runRef,
    reason: z.enum(FAILURE_REASONS),
    message: z.string(),
    epoch: z.number().int().nullable(),
    step: z.number().int().nullable(),
  })
  .meta({ id: "WebhookRunFailedData" });

export const RunCancelledDataSchema = z
  .object({ ...runRef, message: z.string() })
  .meta({ id: "WebhookRunCancelledData" });

export const RunPausedDataSchema = z
  .object({
    ...runRef,
    /** Where training stopped (epoch in progress, optimizer step); null when it was paused in the queue. */
    epoch: z.number().int().nullable(),
    step: z.number().int().nullable(),
  })
  .meta({ id: "WebhookRunPausedData" });

export const RunResumedDataSchema = z.object({ ...runRef }).meta({ id: "WebhookRunResumedData" });

export const WebhookTestDataSchema = z
  .object({ webhookId: z.string(), message: z.string() })
  .meta({ id: "WebhookTestData" });

/** Every webhook type with its data schema and a line for the docs. */
export const WEBHOOK_EVENTS = {
  "run.stage.grown": {
    data: StageGrownDataSchema,
    summary: "A run grew its network (depth and/or input side) at the start of a stage",
  },
  "run.stage.search.completed": {
    data: SearchCompletedDataSchema,
    summary: "An AutoProg search scored a stage's candidates and picked the sub-network",
  },
  "run.succeeded": { data: RunSucceededDataSchema, summary: "A run finished training" },
  "run.failed": { data: RunFailedDataSchema, summary: "A run failed (setup, non-finite loss, error)" },
  "run.cancelled": { data: RunCancelledDataSchema, summary: "A run was cancelled" },
  "run.paused": {
    data: RunPausedDataSchema,
    summary: "A run paused at a step boundary with a checkpoint there (or in the queue)",
  },
  "run.resumed": { data: RunResumedDataSchema, summary: "A paused run was queued again" },
  "webhook.test": { data: WebhookTestDataSchema, summary: "Sent by POST /v1/webhooks/{id}/test" },
} as const;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;

/** Types renamed since they were published (issue 26: one spelling, `cancelled`), old → new. */
export const RENAMED_WEBHOOK_TYPES: Readonly<Record<string, WebhookEventType>> = {
  "run.canceled": "run.cancelled",
};
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]];

/** The body of every delivery: `{type, timestamp, data}` (Standard Webhooks). */
export function webhookBody(type: WebhookEventType, timestampMs: number, data: object): string {
  return JSON.stringify({ type, timestamp: new Date(timestampMs).toISOString(), data });
}

/** The webhook a training event causes (without the run reference, which the sink adds), or null. */
export function webhookOfEvent(
  event: TrainingEvent,
): { type: WebhookEventType; data: Record<string, unknown> } | null {
  switch (event.type) {
    case "stage.grown":
      return {
        type: "run.stage.grown",
        data: {
          stage: event.stage,
          from: event.from,
          to: event.to,
          operator: event.operator,
          flopsBefore: event.flopsBefore,
          flopsAfter: event.flopsAfter,
          secondsSoFar: event.secondsSoFar,
        },
      };
    case "stage.search.completed":
      return {
        type: "run.stage.search.completed",
        data: {
          stage: event.stage,
          winner: event.winner,
          selection: event.selection,
          cost: event.cost,
          candidates: event.candidates,
          searchSeconds: event.searchSeconds,
        },
      };
    case "run.completed": {
      const r = event.result;
      return {
        type: "run.succeeded",
        data: {
          arm: r.arm,
          seed: r.seed,
          top1: r.top1,
          bestTop1: r.bestTop1,
          epochs: r.epochs,
          wallSeconds: r.wallSeconds,
          trainSeconds: r.trainSeconds,
          flopsPerStepMean: r.flopsPerStepMean,
          flopsFull: r.flopsFull,
        },
      };
    }
    case "run.failed":
      return event.reason === "cancelled"
        ? { type: "run.cancelled", data: { message: event.message } }
        : {
            type: "run.failed",
            data: { reason: event.reason, message: event.message, epoch: event.epoch, step: event.step },
          };
    case "run.paused":
      return { type: "run.paused", data: { epoch: event.epoch, step: event.step } };
    case "run.resumed":
      return { type: "run.resumed", data: {} };
    default:
      return null;
  }
}

/**
 * A run webhook's body around its experiment id, which the outbox statement reads from the run
 * itself (so the sink needs no read before its batch): `bodyBefore + JSON string + bodyAfter` is
 * exactly `webhookBody(type, timestamp, {runId, experimentId, ...data})`.
 */
export function runWebhookBodyParts(
  type: WebhookEventType,
  timestampMs: number,
  runId: string,
  data: Record<string, unknown>,
): { bodyBefore: string; bodyAfter: string } {
  const head = JSON.stringify({ type, timestamp: new Date(timestampMs).toISOString() }).slice(0, -1);
  const rest = JSON.stringify(data).slice(1);
  return {
    bodyBefore: `${head},"data":{"runId":${JSON.stringify(runId)},"experimentId":`,
    bodyAfter: rest === "}" ? "}}" : `,${rest}}`,
  };
}
