import type { OpenAPIHono } from "@hono/zod-openapi";
import { getRunViewInProject } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { RunSchema, toRun } from "./schema.ts";

export const getRunRoute = defineRoute({
  method: "get",
  operationId: "getRun",
  path: "/v1/runs/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "One run: state, attempt, backend and result summary",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: { description: "The run", content: { "application/json": { schema: RunSchema } } },
  },
});

export function registerGetRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(getRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const row = await getRunViewInProject(c.get("services").db, id, c.get("projectId"));
    if (!row) throw notFound("run", id);
    return c.json(toRun(row), 200);
  });
}
