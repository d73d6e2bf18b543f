import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { getRunInProject, metricsOfRun } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, IdParamsSchema, limitParam } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { MetricPosition, MetricSchema, toMetric } from "./schema.ts";

export const MetricPageSchema = z
  .object({ items: z.array(MetricSchema), nextCursor: z.string().nullable() })
  .openapi("MetricPage");

export const listMetricsRoute = defineRoute({
  method: "get",
  operationId: "listRunMetrics",
  path: "/v1/runs/{id}/metrics",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "Scalar series of a run (train.loss, test.best, lr, …) by key, then step",
  request: {
    params: IdParamsSchema("run"),
    query: z.object({
      key: z
        .string()
        .min(1)
        .max(100)
        .optional()
        .openapi({ param: { name: "key", in: "query" }, example: "test.best" }),
      cursor: cursorParam(MetricPosition),
      limit: limitParam(500, 5000),
    }),
  },
  responses: {
    200: { description: "One page of values", content: { "application/json": { schema: MetricPageSchema } } },
  },
});

export function registerListMetrics(app: OpenAPIHono<AppEnv>) {
  app.openapi(listMetricsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { key, cursor, limit } = c.req.valid("query");
    const { db } = c.var.services;
    if (!(await getRunInProject(db, id, c.var.projectId))) throw notFound("run", id);
    const rows = await metricsOfRun(db, id, {
      ...(key !== undefined ? { key } : {}),
      ...(cursor ? { after: cursor } : {}),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ key: last.key, step: last.step }) : null;
    return c.json({ items: page.map(toMetric), nextCursor }, 200);
  });
}
