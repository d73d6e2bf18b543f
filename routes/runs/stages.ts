import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isRunInProject, stagesOfRun } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { StageSchema, toStage } from "./schema.ts";

export const StageListSchema = z.object({ items: z.array(StageSchema) }).openapi("StageList");

export const listStagesRoute = defineRoute({
  method: "get",
  operationId: "listRunStages",
  path: "/v1/runs/{id}/stages",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "The run's stages: planned at submission, then as trained (sub-network, growth)",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: { description: "Stages in order", content: { "application/json": { schema: StageListSchema } } },
  },
});

export function registerListStages(app: OpenAPIHono<AppEnv>) {
  app.openapi(listStagesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    return c.json({ items: (await stagesOfRun(db, id)).map(toStage) }, 200);
  });
}
