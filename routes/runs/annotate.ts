import type { OpenAPIHono } from "@hono/zod-openapi";
import { annotateRun, isRunInProject } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { AnnotationsPatchSchema, annotationsOf } from "../common/query.ts";
import { defineRoute } from "../common/route.ts";
import { RunSchema, toRun } from "./schema.ts";

export const annotateRunRoute = defineRoute({
  method: "patch",
  operationId: "updateRun",
  path: "/v1/runs/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "Set a run's tags and/or note (what is given replaces what was stored)",
  description: "Find runs by them with `GET /v1/runs?tag=…` and `?q=…`.",
  request: {
    params: IdParamsSchema("run"),
    body: { required: true, content: { "application/json": { schema: AnnotationsPatchSchema } } },
  },
  responses: {
    200: { description: "The run", content: { "application/json": { schema: RunSchema } } },
  },
});

export function registerAnnotateRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(annotateRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const patch = annotationsOf(c.req.valid("json"));
    const { db, clock } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const row = await annotateRun(db, id, patch, clock());
    if (!row) throw notFound("run", id);
    return c.json(toRun(row), 200);
  });
}
