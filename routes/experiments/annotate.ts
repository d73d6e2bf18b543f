import type { OpenAPIHono } from "@hono/zod-openapi";
import { annotateExperiment, getExperimentInProject, runViewsOfExperiments } from "../../db/experiments.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { AnnotationsPatchSchema, annotationsOf } from "../common/query.ts";
import { defineRoute } from "../common/route.ts";
import { ExperimentSchema, toExperiment } from "./schema.ts";

export const annotateExperimentRoute = defineRoute({
  method: "patch",
  operationId: "updateExperiment",
  path: "/v1/experiments/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["experiments"],
  summary: "Set an experiment's tags and/or note (what is given replaces what was stored)",
  description: "Find experiments by them with `GET /v1/experiments?tag=…` and `?q=…`.",
  request: {
    params: IdParamsSchema("exp"),
    body: { required: true, content: { "application/json": { schema: AnnotationsPatchSchema } } },
  },
  responses: {
    200: { description: "The experiment", content: { "application/json": { schema: ExperimentSchema } } },
  },
});

export function registerAnnotateExperiment(app: OpenAPIHono<AppEnv>) {
  app.openapi(annotateExperimentRoute, async (c) => {
    const { id } = c.req.valid("param");
    const patch = annotationsOf(c.req.valid("json"));
    const { db } = c.get("services");
    if (!(await getExperimentInProject(db, id, c.get("projectId")))) throw notFound("experiment", id);
    const row = await annotateExperiment(db, id, patch);
    if (!row) throw notFound("experiment", id);
    return c.json(toExperiment(row, await runViewsOfExperiments(db, [id])), 200);
  });
}
