import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { getRunInProject, stagesOfRun } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, problemResponses } from "../common/problem.ts";
import { StageSchema, toStage } from "./schema.ts";

export const StageListSchema = z.object({ items: z.array(StageSchema) }).openapi("StageList");

export const listStagesRoute = createRoute({
  method: "get",
  operationId: "listRunStages",
  path: "/v1/runs/{id}/stages",
  tags: ["runs"],
  summary: "The run's stages: planned at submission, then as trained (sub-network, growth)",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: { description: "Stages in order", content: { "application/json": { schema: StageListSchema } } },
    ...problemResponses(404, 422),
  },
});

export function registerListStages(app: OpenAPIHono<AppEnv>) {
  app.openapi(listStagesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.var.services;
    if (!(await getRunInProject(db, id, c.var.projectId))) throw notFound("run", id);
    return c.json({ items: (await stagesOfRun(db, id)).map(toStage) }, 200);
  });
}
