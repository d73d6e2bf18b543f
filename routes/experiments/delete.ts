import type { OpenAPIHono } from "@hono/zod-openapi";
import { batch } from "../../db/database.ts";
import {
  deleteExperimentStatements,
  getExperimentInProject,
  runsOfExperiments,
} from "../../db/experiments.ts";
import { requestCancel } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";

export const deleteExperimentRoute = defineRoute({
  method: "delete",
  operationId: "deleteExperiment",
  path: "/v1/experiments/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["experiments"],
  summary: "Delete an experiment: cancel its live runs, remove its rows and its runs' files",
  description:
    "Queued and running runs are cancelled first (a trainer stops at its next step); then the " +
    "experiment, its runs, stages, candidates, metrics and events are removed in one batch, and " +
    "the runs' checkpoints are deleted.",
  request: { params: IdParamsSchema("exp") },
  responses: {
    204: { description: "Deleted" },
  },
});

export function registerDeleteExperiment(app: OpenAPIHono<AppEnv>) {
  app.openapi(deleteExperimentRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, dispatcher, artifacts } = c.get("services");
    if (!(await getExperimentInProject(db, id, c.get("projectId")))) throw notFound("experiment", id);
    const runs = await runsOfExperiments(db, [id]);
    for (const run of runs) {
      if (await requestCancel(db, run.id, clock())) await dispatcher.cancel(run.id);
    }
    await batch(db, deleteExperimentStatements(db, id));
    for (const run of runs) await artifacts.remove(run.id);
    return c.body(null, 204);
  });
}
