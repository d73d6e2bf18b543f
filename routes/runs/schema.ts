import { z } from "@hono/zod-openapi";
import type { CandidateRow, MetricRow, RunView, StageRow } from "../../db/runs.ts";
import { RUN_STATES, STAGE_STATES } from "../../db/schema.ts";
import { BackendReportSchema } from "../../src/core/events.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Time = z.iso.datetime();

export const RunSchema = z
  .object({
    id: z.string(),
    experimentId: z.string(),
    arm: z.string().openapi({ description: "The arm's kind: original, prog, …" }),
    label: z.string().openapi({ description: "The arm's name within the experiment." }),
    seed: z.number().int(),
    state: z.enum(RUN_STATES),
    attempt: z.number().int().openapi({
      description: "How many times a trainer has started the run (a pause gives its attempt back).",
    }),
    cancelRequested: z.boolean(),
    pauseRequested: z.boolean().openapi({
      description:
        "A pause was asked for while the run trains: it becomes `paused` at the next step boundary.",
    }),
    backendRequested: z.string(),
    // A union, not .nullable(): the shared component must stay non-null for the events that use it.
    backend: z.union([BackendReportSchema, z.null()]),
    epochs: z.number().int(),
    epochsCompleted: z.number().int(),
    checkpointEpoch: z.number().int().nullable(),
    lastSeq: z.number().int().openapi({ description: "Seq of the newest event (0 = none yet)." }),
    top1: z.number().nullable(),
    bestTop1: z.number().nullable(),
    wallSeconds: z.number().nullable(),
    trainSeconds: z.number().nullable(),
    flopsPerImageMean: z.number().nullable(),
    flopsFull: z.number().nullable(),
    failure: z.object({ reason: z.string(), message: z.string() }).nullable(),
    tags: z.array(z.string()).openapi({ description: "The user's tags (`PATCH /v1/runs/{id}`)." }),
    note: z.string().nullable().openapi({ description: "The user's note (`PATCH /v1/runs/{id}`)." }),
    forkOf: z
      .object({
        runId: z.string(),
        epoch: z
          .number()
          .int()
          .openapi({ description: "Epochs of the parent's checkpoint the fork started from." }),
      })
      .nullable()
      .openapi({
        description: "The run this one was forked from (`POST /v1/runs/{id}/fork`); null otherwise.",
      }),
    createdAt: Time,
    startedAt: Time.nullable(),
    finishedAt: Time.nullable(),
  })
  .openapi("Run");

export type Run = z.infer<typeof RunSchema>;

/**
 * A run as the API shows it. Built, not parsed: the `Run` type holds its shape, and this is the
 * API's most frequent answer (dashboards poll it), where RunSchema.parse cost ~5-10% of a request.
 */
export function toRun(row: RunView): Run {
  return {
    id: row.id,
    experimentId: row.experimentId,
    arm: row.arm,
    label: row.label,
    seed: row.seed,
    state: row.state,
    attempt: row.attempt,
    cancelRequested: row.cancelRequested,
    pauseRequested: row.pauseRequested,
    backendRequested: row.backendRequested,
    backend: row.backend ?? null,
    epochs: row.epochs,
    epochsCompleted: row.epochsCompleted,
    checkpointEpoch: row.checkpointEpoch,
    lastSeq: row.lastSeq,
    top1: row.top1,
    bestTop1: row.bestTop1,
    wallSeconds: row.wallSeconds,
    trainSeconds: row.trainSeconds,
    flopsPerImageMean: row.flopsPerImageMean,
    flopsFull: row.flopsFull,
    failure:
      row.failureReason !== null ? { reason: row.failureReason, message: row.failureMessage ?? "" } : null,
    tags: row.tags,
    note: row.note,
    forkOf: row.parentRunId !== null ? { runId: row.parentRunId, epoch: row.forkEpoch ?? 0 } : null,
    createdAt: new Date(row.createdAt).toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
  };
}

export const StageSchema = z
  .object({
    stage: z.number().int(),
    startEpoch: z.number().int(),
    epochs: z.number().int(),
    depth: z.number().int().nullable().openapi({ description: "Null until a search decides it." }),
    side: z.number().int().nullable(),
    tokens: z.number().int().nullable(),
    flopsPerImage: z.number().nullable(),
    state: z.enum(STAGE_STATES),
    operator: z.string().nullable().openapi({ description: "The growth operator that opened the stage." }),
    growth: z.record(z.string(), z.unknown()).nullable(),
    startedAt: Time.nullable(),
  })
  .openapi("Stage");

export function toStage(row: StageRow): z.infer<typeof StageSchema> {
  const { runId: _runId, startedAt, ...rest } = row;
  return StageSchema.parse({ ...rest, startedAt: iso(startedAt) });
}

export const CandidateSchema = z
  .object({
    stage: z.number().int(),
    index: z.number().int(),
    depth: z.number().int().nullable(),
    side: z.number().int().nullable(),
    tokens: z.number().int().nullable(),
    loss: z.number().nullable(),
    cost: z
      .number()
      .nullable()
      .openapi({ description: "Seconds per step, or FLOPs per image when the search is deterministic." }),
    score: z.number().nullable(),
    selected: z.boolean().nullable(),
    /** The candidate as the trainer reported it. */
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("SearchCandidate");

export function toCandidate(row: CandidateRow): z.infer<typeof CandidateSchema> {
  return CandidateSchema.parse({
    stage: row.stage,
    index: row.idx,
    depth: row.depth,
    side: row.side,
    tokens: row.tokens,
    loss: row.loss,
    cost: row.cost,
    score: row.score,
    selected: row.selected,
    detail: row.payload,
  });
}

export const MetricSchema = z
  .object({ key: z.string(), step: z.number().int(), epoch: z.number().int().nullable(), value: z.number() })
  .openapi("Metric");

export function toMetric(row: MetricRow): z.infer<typeof MetricSchema> {
  return MetricSchema.parse({ key: row.key, step: row.step, epoch: row.epoch, value: row.value });
}

export const MetricPosition = z.object({ key: z.string(), step: z.number().int() });
