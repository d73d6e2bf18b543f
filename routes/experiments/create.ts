import { createHash } from "node:crypto";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { batch } from "../../db/batch.ts";
import type { Db } from "../../db/client.ts";
import { createExperimentStatements, type NewRun, type NewStage } from "../../db/experiments.ts";
import { claimKey, completeKeyStatement, getKey, releaseKey } from "../../db/idempotency.ts";
import { newId } from "../../db/ids.ts";
import type { RunRow } from "../../db/runs.ts";
import { planArm, planExperiment } from "../../src/core/plan.ts";
import { armLabel, type ExperimentSpec } from "../../src/core/spec.ts";
import type { AppEnv } from "../../src/services.ts";
import { ProblemError, problemResponses } from "../common/problem.ts";
import { ExperimentSchema, SpecSchema, toExperiment, ValidationResultSchema } from "./schema.ts";

export const createExperimentRoute = createRoute({
  method: "post",
  path: "/v1/experiments",
  tags: ["experiments"],
  summary: "Submit an experiment: one queued run per arm × seed",
  description:
    "With `validate_only=true` nothing is created: the answer is the normalised spec and each arm's " +
    "stage plan and FLOPs estimate. An `Idempotency-Key` makes retries safe: the same key and body " +
    "replay the first answer, a different body is 422, and a request still in progress is 409.",
  request: {
    query: z.object({
      validate_only: z
        .enum(["true", "false"])
        .default("false")
        .transform((v) => v === "true")
        .openapi({ param: { name: "validate_only", in: "query" } }),
    }),
    headers: z.object({
      "idempotency-key": z
        .string()
        .min(1)
        .max(255)
        .optional()
        .openapi({ param: { name: "idempotency-key", in: "header" } }),
    }),
    body: { required: true, content: { "application/json": { schema: SpecSchema } } },
  },
  responses: {
    200: {
      description: "validate_only: the plan, nothing created",
      content: { "application/json": { schema: ValidationResultSchema } },
    },
    201: {
      description: "The experiment and its queued runs",
      headers: z.object({ Location: z.string() }),
      content: { "application/json": { schema: ExperimentSchema } },
    },
    ...problemResponses(400, 409, 422),
  },
});

export function registerCreateExperiment(app: OpenAPIHono<AppEnv>) {
  app.openapi(createExperimentRoute, async (c) => {
    const spec = c.req.valid("json");
    const { validate_only: validateOnly } = c.req.valid("query");
    const key = c.req.valid("header")["idempotency-key"];
    const { db, clock, dispatcher, idempotencyTtlMs } = c.var.services;
    if (validateOnly) return c.json(ValidationResultSchema.parse({ spec, arms: planExperiment(spec) }), 200);

    const now = clock();
    const fingerprint = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
    if (key !== undefined && !(await claimKey(db, { key, fingerprint, now, ttlMs: idempotencyTtlMs }))) {
      const replay = await replayOf(db, key, fingerprint);
      c.header("Idempotent-Replayed", "true");
      c.header("Location", replay.location);
      return c.json(replay.body, 201);
    }
    const record = experimentRecord(spec, now);
    const body = toExperiment(record.experiment, record.runs);
    const location = `/v1/experiments/${body.id}`;
    try {
      await batch(db, [
        ...createExperimentStatements(db, record),
        ...(key !== undefined ? [completeKeyStatement(db, { key, status: 201, body, location })] : []),
      ]);
    } catch (error) {
      if (key !== undefined) await releaseKey(db, key);
      throw error;
    }
    dispatcher.wake();
    c.header("Location", location);
    return c.json(body, 201);
  });
}

/** The stored answer for a key this request does not own, or the problem that explains why not. */
async function replayOf(db: Db, key: string, fingerprint: string) {
  const stored = await getKey(db, key);
  if (!stored || stored.state === "in_flight") {
    throw new ProblemError("idempotency_key_in_use", "retry once the first request has finished");
  }
  if (stored.fingerprint !== fingerprint) {
    throw new ProblemError("idempotency_key_mismatch", "use a new key for a different experiment");
  }
  return { body: ExperimentSchema.parse(stored.body), location: stored.location ?? "" };
}

/** The rows of a new experiment: runs for every arm × seed, each with its planned stages. */
function experimentRecord(spec: ExperimentSpec, now: number) {
  const id = newId("exp", now);
  const runs: RunRow[] = [];
  const stages: NewStage[] = [];
  for (const arm of spec.arms) {
    const plan = planArm(spec, arm);
    for (const seed of spec.seeds) {
      const run = newRun({
        id: newId("run", now),
        experimentId: id,
        arm: arm.arm,
        label: armLabel(arm),
        seed,
        position: runs.length,
        backendRequested: spec.backend,
        epochs: spec.training.epochs,
        createdAt: now,
        updatedAt: now,
      });
      runs.push(run);
      for (const s of plan.stages) {
        stages.push({
          runId: run.id,
          stage: s.stage,
          startEpoch: s.startEpoch,
          epochs: s.epochs,
          depth: s.architecture?.depth ?? null,
          side: s.architecture?.side ?? null,
          tokens: s.architecture?.tokens ?? null,
          flopsPerImage: s.architecture?.flopsPerImage ?? null,
        });
      }
    }
  }
  const experiment = {
    id,
    name: spec.name,
    description: spec.description ?? null,
    spec,
    createdAt: now,
  };
  return { experiment, runs, stages };
}

/** A queued run with every column a fresh row has, so the 201 body is exactly what GET returns. */
function newRun(
  fields: Required<
    Pick<
      NewRun,
      | "id"
      | "experimentId"
      | "arm"
      | "label"
      | "seed"
      | "position"
      | "backendRequested"
      | "epochs"
      | "createdAt"
      | "updatedAt"
    >
  >,
): RunRow {
  return {
    ...fields,
    state: "queued",
    attempt: 0,
    cancelRequested: false,
    backend: null,
    epochsCompleted: 0,
    checkpointEpoch: null,
    lastSeq: 0,
    top1: null,
    bestTop1: null,
    wallSeconds: null,
    trainSeconds: null,
    flopsPerImageMean: null,
    flopsFull: null,
    failureReason: null,
    failureMessage: null,
    result: null,
    startedAt: null,
    finishedAt: null,
  };
}
