import type { OpenAPIHono } from "@hono/zod-openapi";
import { getExperimentInProject, runViewsOfExperiments } from "../../db/experiments.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { ExperimentSchema, toExperiment } from "./schema.ts";

export const getExperimentRoute = defineRoute({
  method: "get",
  operationId: "getExperiment",
  path: "/v1/experiments/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["experiments"],
  summary: "One experiment with its spec and runs",
  request: { params: IdParamsSchema("exp") },
  responses: {
    200: { description: "The experiment", content: { "application/json": { schema: ExperimentSchema } } },
  },
});

export function registerGetExperiment(app: OpenAPIHono<AppEnv>) {
  app.openapi(getExperimentRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.get("services");
    const row = await getExperimentInProject(db, id, c.get("projectId"));
    if (!row) throw notFound("experiment", id);
    return c.json(toExperiment(row, await runViewsOfExperiments(db, [id])), 200);
  });
}
