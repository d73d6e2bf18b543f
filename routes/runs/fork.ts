import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { batch } from "../../db/database.ts";
import { forkRows } from "../../db/experiment-rows.ts";
import { createForkStatements, getExperiment, runsOfExperiments } from "../../db/experiments.ts";
import { newId } from "../../db/ids.ts";
import { getRunInProject, type RunRow, stagesOfRun, trainingSpecOf } from "../../db/runs.ts";
import { packCheckpoint, unpackCheckpoint } from "../../src/checkpoints/wire.ts";
import { FORK_START_SPEC_HASH } from "../../src/core/checkpoint-layout.ts";
import { DEFAULT_RUN_CEILINGS, experimentCost } from "../../src/core/run-cost.ts";
import {
  ArmSchema,
  armLabel,
  type ExperimentSpec,
  ExperimentSpecSchema,
  fieldErrors,
} from "../../src/core/spec.ts";
import { afterEpochs } from "../../src/core/vocabulary.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { type IdempotencyEnv, idempotency } from "../common/idempotency.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute, headerRef, LOCATION_HEADER } from "../common/route.ts";
import { refuseOverCeilings } from "../experiments/create.ts";
import { checkpointStoreOf } from "../workers/lease-state.ts";
import { RunSchema, toRun } from "./schema.ts";

export const ForkRequestSchema = z
  .object({
    fromEpoch: z.number().int().min(1).optional().openapi({
      description: "Start from the parent's checkpoint after this many epochs (one it holds).",
    }),
    fromStage: z.number().int().min(1).optional().openapi({
      description: "Start where the parent's stage of this number (0-based, as `/stages` lists them) began.",
    }),
    arm: ArmSchema.optional().openapi({
      description:
        "The fork's arm (its schedule, search, growth operator); absent: the parent's. Its `label` names the fork " +
        "(default `<parent label>-fork-<n>`).",
    }),
    training: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({
        description: "Fields of the spec's `training` to change for the fork (checked as the spec is).",
        example: { epochs: 6 },
      }),
  })
  .strict()
  .refine((body) => (body.fromEpoch === undefined) !== (body.fromStage === undefined), {
    message: "give fromEpoch or fromStage, one of them",
    path: ["fromEpoch"],
  })
  .openapi("ForkRequest");
type ForkRequest = z.infer<typeof ForkRequestSchema>;

export const forkRunRoute = defineRoute({
  method: "post",
  operationId: "forkRun",
  path: "/v1/runs/{id}/fork",
  access: MEMBERS,
  middleware: [idempotency({ scope: (c) => c.get("projectId") })],
  problems: [404, 409],
  tags: ["runs"],
  summary: "Fork a run: a new run of its experiment that starts from one of its checkpoints",
  description:
    "The fork trains its own arm and training settings (the parent's unless given) from the parent's " +
    "checkpoint after `fromEpoch` epochs, or where the parent's stage `fromStage` began: its metrics " +
    "of the epochs before are the parent's rows, and from there it follows its own schedule. Model " +
    "and dataset are the parent's. 409 `checkpoint_not_held` when the server no longer holds that " +
    "checkpoint (a finished run keeps its newest and, with `AUTOPROG_KEEP_STAGE_CHECKPOINTS`, the " +
    "one closing each stage: `GET /v1/runs/{id}/checkpoints`), or a pause inside the next epoch " +
    "replaced it (resume the run first). 503 without a checkpoint store.",
  request: {
    params: IdParamsSchema("run"),
    headers: z.object({
      "idempotency-key": z
        .string()
        .min(1)
        .max(255)
        .optional()
        .openapi({ param: { name: "idempotency-key", in: "header" } }),
    }),
    body: { required: true, content: { "application/json": { schema: ForkRequestSchema } } },
  },
  responses: {
    201: {
      description: "The fork, queued",
      headers: { ...LOCATION_HEADER, "Idempotent-Replayed": headerRef("IdempotentReplayed") },
      content: { "application/json": { schema: RunSchema } },
    },
  },
});

const invalid = (path: string, message: string) =>
  new ProblemError("validation_failed", message, [{ location: "body", path, message }]);

/** The fork's spec: the parent's with one arm (the fork's) and its training changes, parsed as a spec. */
function forkSpec(base: ExperimentSpec, parent: RunRow, body: ForkRequest, label: string): ExperimentSpec {
  const parentArm = base.arms.find((a) => armLabel(a) === parent.label);
  const arm = body.arm ?? parentArm;
  if (!arm) throw invalid("arm", `the parent's arm ${parent.label} is not in its spec: name the fork's arm`);
  const parsed = ExperimentSpecSchema.safeParse({
    ...base,
    arms: [{ ...arm, label }],
    seeds: [parent.seed],
    training: { ...base.training, ...body.training },
  });
  if (parsed.success) return parsed.data;
  // The spec's paths, as the request names them.
  const errors = fieldErrors(parsed.error).map((e) => ({
    location: "body" as const,
    path: e.path.replace(/^arms\.0(\.|$)/, "arm$1"),
    message: e.message,
  }));
  throw new ProblemError("validation_failed", "the fork's spec is not valid", errors);
}

/** `<parent label>-fork-<n>` with the first n no run of the experiment uses. */
function defaultLabel(parent: RunRow, siblings: readonly RunRow[]): string {
  for (let n = 1; ; n++) {
    const label = `${parent.label}-fork-${n}`;
    if (!siblings.some((r) => r.label === label)) return label;
  }
}

export function registerForkRun(app: OpenAPIHono<AppEnv>) {
  const route = app as unknown as OpenAPIHono<IdempotencyEnv>;
  route.openapi(forkRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const { db, clock, dispatcher } = c.get("services");
    const parent = await getRunInProject(db, id, c.get("projectId"));
    if (!parent) throw notFound("run", id);
    const experiment = await getExperiment(db, parent.experimentId);
    if (!experiment) throw notFound("run", id);
    const parentStages = await stagesOfRun(db, parent.id);
    let forkEpoch = body.fromEpoch ?? 0;
    if (body.fromStage !== undefined) {
      const stage = parentStages.find((s) => s.stage === body.fromStage);
      if (!stage)
        throw invalid("fromStage", `run ${id} has stages 0…${parentStages.length - 1}; stage 0 is a new run`);
      forkEpoch = stage.startEpoch;
    }
    const siblings = await runsOfExperiments(db, [parent.experimentId]);
    const label = body.arm?.label ?? defaultLabel(parent, siblings);
    if (siblings.some((r) => r.label === label && r.seed === parent.seed))
      throw invalid(
        "arm.label",
        `the experiment already has a run labelled ${label} with seed ${parent.seed}`,
      );
    const spec = forkSpec(trainingSpecOf(parent, experiment), parent, body, label);
    if (forkEpoch >= spec.training.epochs)
      throw invalid(
        body.fromStage !== undefined ? "fromStage" : "fromEpoch",
        `the fork starts ${afterEpochs(forkEpoch)} but trains ${spec.training.epochs} epochs in all`,
      );
    refuseOverCeilings(spec, experimentCost(spec), c.get("services").runCeilings ?? DEFAULT_RUN_CEILINGS);

    const store = checkpointStoreOf(c);
    const held = await store.get(parent.id, forkEpoch);
    if (!held)
      throw new ProblemError(
        "checkpoint_not_held",
        `run ${id} holds no checkpoint ${afterEpochs(forkEpoch)} (GET /v1/runs/${id}/checkpoints lists those it holds)`,
      );
    const now = clock();
    const forkId = newId("run", now);
    // The fork's trainer adopts this copy as its start (src/train/run-context.ts); the rest of
    // the meta (weights, optimizer, history, stages so far) is the parent's as it was.
    const parts = unpackCheckpoint(held);
    const meta = JSON.parse(new TextDecoder().decode(parts.meta)) as Record<string, unknown>;
    // A pause inside epoch E replaces the checkpoint after E epochs with one partway through
    // epoch E: a fork from it would start mid-epoch, not where it says.
    if (meta.epochProgress !== null && meta.epochProgress !== undefined)
      throw new ProblemError(
        "checkpoint_not_held",
        `run ${id}'s checkpoint ${afterEpochs(forkEpoch)} was replaced by its pause inside the next epoch; resume the run, or fork from another epoch`,
      );
    const adopted = { ...meta, specHash: FORK_START_SPEC_HASH, arm: label, seed: parent.seed };
    // The checkpoint before the row: a queued fork never names a missing checkpoint.
    await store.put(
      forkId,
      forkEpoch,
      packCheckpoint({ ...parts, meta: new TextEncoder().encode(JSON.stringify(adopted)) }),
    );
    const rows = forkRows(
      parent,
      { id: forkId, label, position: siblings.length, forkEpoch, spec },
      parentStages,
      now,
    );
    const answer = toRun(rows.run);
    const location = `/v1/runs/${forkId}`;
    const key = c.get("idempotency");
    try {
      await batch(db, [
        ...createForkStatements(db, {
          run: { ...rows.run, parentRunId: parent.id, forkEpoch },
          stages: rows.stages,
        }),
        ...(key ? [key.complete(db, { status: 201, body: answer, location })] : []),
      ]);
    } catch (error) {
      await store.remove(forkId);
      throw error;
    }
    dispatcher.wake();
    c.header("Location", location);
    return c.json(answer, 201);
  });
}
