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
import type { AppEnv, Services } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { type IdempotencyEnv, idempotency } from "../common/idempotency.ts";
import { ProblemError } from "../common/problem.ts";
import { defineRoute, headerRef, LOCATION_HEADER } from "../common/route.ts";
import { checkpointStoreOf } from "../workers/lease-state.ts";
import { checkDatasetRoot } from "./dataset-root.ts";
import { initCheckpoint } from "./init-weights.ts";
import { ExperimentSchema, SpecSchema, toExperiment, ValidationResultSchema } from "./schema.ts";

/** The body both operations read, and the checks they share (dataset root, run ceilings). */
const specBody = { required: true, content: { "application/json": { schema: SpecSchema } } } as const;

/** Where a plan without writes is asked for; `POST /v1/experiments?validate_only=true` is sent here. */
export const VALIDATE_PATH = "/v1/experiments/validate";

export const validateExperimentRoute = defineRoute({
  method: "post",
  operationId: "validateExperiment",
  path: VALIDATE_PATH,
  access: MEMBERS,
  problems: [400],
  tags: ["experiments"],
  summary: "Check a spec and plan it, creating nothing",
  description:
    "The answer is the normalised spec (every default filled in) and each arm's stage plan, FLOPs and " +
    "run-cost estimate (peak memory, total work), with the server's ceilings. An invalid spec is 422 " +
    "listing every bad field, as `POST /v1/experiments` would answer; so is a spec whose run would need " +
    "more than the ceilings (`AUTOPROG_MAX_RUN_GB`, `AUTOPROG_MAX_RUN_PFLOPS`), naming the field and " +
    "giving the estimate.",
  request: { body: specBody },
  responses: {
    200: {
      description: "The plan; nothing was created",
      content: { "application/json": { schema: ValidationResultSchema } },
    },
  },
});

/** `true`/`1` ask for the plan (the older form); `false`/`0`, or leaving it out, create. */
const VALIDATE_ONLY_VALUES = ["true", "false", "1", "0"] as const;

export const createExperimentRoute = defineRoute({
  method: "post",
  operationId: "createExperiment",
  path: "/v1/experiments",
  access: MEMBERS,
  // Keys are per project: another project reusing a key must not get this project's answer.
  middleware: [idempotency({ scope: (c) => c.get("projectId") })],
  problems: [400, 409],
  tags: ["experiments"],
  summary: "Submit an experiment: one queued run per arm × seed",
  description:
    "To check a spec and see its plan without creating anything, use `POST /v1/experiments/validate`. " +
    "A spec whose run would need more than the server's ceilings (`AUTOPROG_MAX_RUN_GB`, " +
    "`AUTOPROG_MAX_RUN_PFLOPS`) is refused with 422, naming the field and giving the estimate. " +
    "An `Idempotency-Key` makes retries safe: the same key and body " +
    "replay the first answer, a different body is 422, and a request still in progress is 409.",
  request: {
    query: z.object({
      validate_only: z
        .enum(VALIDATE_ONLY_VALUES)
        .optional()
        .openapi({
          param: { name: "validate_only", in: "query", deprecated: true },
          description:
            "Deprecated: use `POST /v1/experiments/validate`. `true` or `1` answers 308 to it (a client " +
            "that follows redirects sends the same body there and gets the plan); `false`, `0` or absent create.",
        }),
    }),
    headers: z.object({
      // Named as the documentation writes it; the validator matches header names in any case.
      "Idempotency-Key": z
        .string()
        .min(1)
        .max(255)
        .optional()
        .openapi({ param: { name: "Idempotency-Key", in: "header" } }),
    }),
    body: specBody,
  },
  responses: {
    201: {
      description: "The experiment and its queued runs",
      headers: {
        ...LOCATION_HEADER,
        "Idempotent-Replayed": headerRef("IdempotentReplayed"),
      },
      content: { "application/json": { schema: ExperimentSchema } },
    },
    308: {
      description:
        "`validate_only=true` (deprecated): the same request belongs at `POST /v1/experiments/validate`",
      headers: LOCATION_HEADER,
    },
  },
});

/** The spec's checks that need the server: the dataset root, then the run ceilings (422 naming the field). */
async function checkAgainstServer(services: Services, spec: ExperimentSpec) {
  const { datasetRoots, runCeilings } = services;
  await checkDatasetRoot(spec.dataset.root, datasetRoots);
  const ceilings = runCeilings ?? DEFAULT_RUN_CEILINGS;
  const costs = experimentCost(spec);
  refuseOverCeilings(spec, costs, ceilings);
  return { costs, ceilings };
}

export function registerCreateExperiment(app: OpenAPIHono<AppEnv>) {
  app.openapi(validateExperimentRoute, async (c) => {
    const spec = c.req.valid("json");
    const { costs, ceilings } = await checkAgainstServer(c.get("services"), spec);
    // Checked as a create would (422 naming init.fromRun or init.weights); nothing is copied.
    await initCheckpoint(c, spec);
    const arms = planExperiment(spec).map((plan, i) => ({ ...plan, cost: costs[i] }));
    return c.json(ValidationResultSchema.parse({ spec, arms, ceilings }), 200);
  });

  const route = app as unknown as OpenAPIHono<IdempotencyEnv>;
  route.openapi(createExperimentRoute, async (c) => {
    const { validate_only: validateOnly } = c.req.valid("query");
    // Before the body is used: the validate route reads and checks it itself. A path, so the
    // client stays on the host it came in on.
    if (validateOnly === "true" || validateOnly === "1") return c.redirect(VALIDATE_PATH, 308);
    const spec = c.req.valid("json");
    const { db, clock, dispatcher } = c.get("services");
    await checkAgainstServer(c.get("services"), spec);
    const init = await initCheckpoint(c, spec);

    const record = experimentRows(spec, clock(), c.get("projectId"));
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
    const key = c.get("idempotency");
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
