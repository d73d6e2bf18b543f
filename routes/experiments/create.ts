import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { batch } from "../../db/database.ts";
import { experimentRows } from "../../db/experiment-rows.ts";
import { createExperimentStatements } from "../../db/experiments.ts";
import { planExperiment } from "../../src/core/plan.ts";
import {
  type ArmCost,
  ceilingIssues,
  DEFAULT_RUN_CEILINGS,
  experimentCost,
} from "../../src/core/run-cost.ts";
import type { ExperimentSpec } from "../../src/core/spec.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { type IdempotencyEnv, idempotency } from "../common/idempotency.ts";
import { ProblemError } from "../common/problem.ts";
import { defineRoute, headerRef, LOCATION_HEADER } from "../common/route.ts";
import { checkpointStoreOf } from "../workers/lease-state.ts";
import { checkDatasetRoot } from "./dataset-root.ts";
import { initCheckpoint } from "./init-weights.ts";
import { ExperimentSchema, SpecSchema, toExperiment, ValidationResultSchema } from "./schema.ts";

export const createExperimentRoute = defineRoute({
  method: "post",
  operationId: "createExperiment",
  path: "/v1/experiments",
  access: MEMBERS,
  // Keys are per project: another project reusing a key must not get this project's answer.
  middleware: [idempotency({ scope: (c) => c.var.projectId })],
  problems: [400, 409],
  tags: ["experiments"],
  summary: "Submit an experiment: one queued run per arm × seed",
  description:
    "With `validate_only=true` nothing is created: the answer is the normalised spec and each arm's " +
    "stage plan, FLOPs and run-cost estimate (peak memory, total work). A spec whose run would need " +
    "more than the server's ceilings (`AUTOPROG_MAX_RUN_GB`, `AUTOPROG_MAX_RUN_PFLOPS`) is refused " +
    "with 422, naming the field and giving the estimate, with or without `validate_only`. " +
    "An `Idempotency-Key` makes retries safe: the same key and body " +
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
      headers: {
        ...LOCATION_HEADER,
        "Idempotent-Replayed": headerRef("IdempotentReplayed"),
      },
      content: { "application/json": { schema: ExperimentSchema } },
    },
  },
});

export function registerCreateExperiment(app: OpenAPIHono<AppEnv>) {
  const route = app as unknown as OpenAPIHono<IdempotencyEnv>;
  route.openapi(createExperimentRoute, async (c) => {
    const spec = c.req.valid("json");
    const { validate_only: validateOnly } = c.req.valid("query");
    const { db, clock, dispatcher, datasetRoots } = c.var.services;
    await checkDatasetRoot(spec.dataset.root, datasetRoots);
    const ceilings = c.var.services.runCeilings ?? DEFAULT_RUN_CEILINGS;
    const costs = experimentCost(spec);
    refuseOverCeilings(spec, costs, ceilings);
    const init = await initCheckpoint(c, spec);
    if (validateOnly) {
      const arms = planExperiment(spec).map((plan, i) => ({ ...plan, cost: costs[i] }));
      return c.json(ValidationResultSchema.parse({ spec, arms, ceilings }), 200);
    }

    const record = experimentRows(spec, clock(), c.var.projectId);
    if (init) {
      // Each run's epoch-0 checkpoint, before its row: a queued run never names a missing one.
      const store = checkpointStoreOf(c);
      for (const run of record.runs) {
        await store.put(run.id, 0, init);
        run.checkpointEpoch = 0;
      }
    }
    const body = toExperiment(record.experiment, record.runs);
    const location = `/v1/experiments/${body.id}`;
    const key = c.var.idempotency;
    try {
      await batch(db, [
        ...createExperimentStatements(db, record),
        ...(key ? [key.complete(db, { status: 201, body, location })] : []),
      ]);
    } catch (error) {
      if (init) for (const run of record.runs) await checkpointStoreOf(c).remove(run.id);
      throw error;
    }
    dispatcher.wake();
    c.header("Location", location);
    return c.json(body, 201);
  });
}

/** 422 naming each field that makes a run too large, with its estimate. */
export function refuseOverCeilings(
  spec: ExperimentSpec,
  costs: readonly ArmCost[],
  ceilings: Parameters<typeof ceilingIssues>[2],
): void {
  const issues = ceilingIssues(spec, costs, ceilings);
  if (issues.length === 0) return;
  throw new ProblemError(
    "validation_failed",
    `a run would need more than this server allows: ${issues.map((i) => i.message).join("; ")}`,
    issues.map((issue) => ({ location: "body", path: issue.path, message: issue.message })),
  );
}
