import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { getExperimentInProject, runsOfExperiments } from "../../db/experiments.ts";
import { stagesOfRuns } from "../../db/runs.ts";
import { RUN_STATES } from "../../db/schema.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { reportTable } from "./table.ts";

const nullableNumber = z.number().nullable();

export const ArmReportSchema = z
  .object({
    arm: z.string(),
    kind: z.string(),
    runs: z.number().int(),
    completed: z.number().int(),
    top1: nullableNumber.openapi({ description: "Final top-1, mean over completed seeds." }),
    bestTop1: nullableNumber,
    wallSeconds: nullableNumber.openapi({
      description: "The whole training loop, mean over completed seeds.",
    }),
    trainSeconds: nullableNumber.openapi({ description: "Optimizer steps only (supernet epochs included)." }),
    trainSearchSeconds: nullableNumber.openapi({
      description: "Optimizer steps + search passes: the paper's T (evaluation and checkpoints left out).",
    }),
    wallSpeedup: nullableNumber.openapi({
      description:
        "Mean wall seconds: original / arm − 1 (stored as ratio − 1: 0.3 is 1.3× as fast, shown as 1.30×); null without a completed original arm.",
    }),
    trainSearchSpeedup: nullableNumber.openapi({
      description:
        "The paper's wall-clock figure: mean train + search seconds, original / arm − 1 (ratio − 1); null without a completed original arm.",
    }),
    flopsSpeedup: nullableNumber.openapi({
      description: "Mean FLOPs per step: original / arm − 1 (ratio − 1).",
    }),
    searchShare: nullableNumber.openapi({ description: "Share of wall seconds spent scoring candidates." }),
    schedule: z.array(
      z.object({
        stage: z.number().int(),
        startEpoch: z.number().int(),
        depth: z.number().int().nullable(),
        side: z.number().int().nullable(),
      }),
    ),
    seeds: z.array(
      z.object({
        seed: z.number().int(),
        runId: z.string(),
        state: z.enum(RUN_STATES),
        top1: nullableNumber,
      }),
    ),
    forkOf: z.object({ arm: z.string(), runId: z.string(), epoch: z.number().int() }).nullable().openapi({
      description:
        "A fork's parent: its arm and run, and the epochs it shares with it (its figures include those epochs); null for the spec's arms.",
    }),
  })
  .openapi("ArmReport");

export const ReportSchema = z
  .object({
    experimentId: z.string(),
    name: z.string(),
    finished: z.boolean().openapi({ description: "Every run is terminal." }),
    baseline: z.string().nullable().openapi({ description: "The arm speedups are measured against." }),
    initFrom: z.object({ runId: z.string(), weights: z.string() }).nullable().openapi({
      description:
        "The run whose trained weights every run started from (the spec's `init`); null when none.",
    }),
    arms: z.array(ArmReportSchema),
  })
  .openapi("ExperimentReport");

export const reportRoute = defineRoute({
  method: "get",
  operationId: "getExperimentReport",
  path: "/v1/experiments/{id}/report",
  access: MEMBERS,
  problems: [404],
  tags: ["experiments"],
  summary:
    "Per arm: top-1, time, wall, train+search and FLOPs speedups against `original`, search share, schedule",
  request: { params: IdParamsSchema("exp") },
  responses: {
    200: { description: "The experiment's table", content: { "application/json": { schema: ReportSchema } } },
  },
});

export function registerReport(app: OpenAPIHono<AppEnv>) {
  app.openapi(reportRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.get("services");
    const experiment = await getExperimentInProject(db, id, c.get("projectId"));
    if (!experiment) throw notFound("experiment", id);
    const runs = await runsOfExperiments(db, [id]);
    const arms = reportTable(
      runs,
      await stagesOfRuns(
        db,
        runs.map((r) => r.id),
      ),
    );
    const baseline = arms.find((a) => a.kind === "original" && a.completed > 0)?.arm ?? null;
    const finished = runs.every(
      (r) => r.state === "completed" || r.state === "failed" || r.state === "cancelled",
    );
    return c.json(
      ReportSchema.parse({
        experimentId: id,
        name: experiment.name,
        finished,
        baseline,
        initFrom: experiment.spec.init
          ? { runId: experiment.spec.init.fromRun, weights: experiment.spec.init.weights }
          : null,
        arms,
      }),
      200,
    );
  });
}
