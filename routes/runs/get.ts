import type { OpenAPIHono } from "@hono/zod-openapi";
import { getRunViewInProject } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute, jsonText } from "../common/route.ts";
import { type Run, RunSchema, toRun } from "./schema.ts";

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
    const projectId = c.get("projectId");
    const { db, runAnswers } = c.get("services");
    const kept = runAnswers?.get(id, projectId);
    if (kept !== undefined) return jsonText<Run>(c, kept);
    const mark = runAnswers?.mark() ?? 0;
    const row = await getRunViewInProject(db, id, projectId);
    if (!row) throw notFound("run", id);
    const body = JSON.stringify(toRun(row));
    runAnswers?.keep(id, projectId, body, mark);
    return jsonText<Run>(c, body);
  });
}
