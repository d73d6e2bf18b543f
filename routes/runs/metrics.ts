import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isRunInProject, metricKeysOfRun, metricsOfRun } from "../../db/runs.ts";
import { EMA_METRIC_PREFIX, METRIC_KEYS, metricKeyDescription } from "../../src/core/metric-keys.ts";
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
  description:
    "One value per epoch and key; `step` is the optimizer step at the epoch's end and `epoch` its " +
    "0-based index. A key outside the scheme (see `/v1/runs/{id}/metrics/keys` and docs/service.md) " +
    "is a 422 naming it; a known key the run has no values for yet answers an empty page.",
  request: {
    params: IdParamsSchema("run"),
    query: z.object({
      key: z
        .string()
        .min(1)
        .max(100)
        .refine((key) => metricKeyDescription(key) !== undefined, {
          message: `not a metric key: one of ${Object.keys(METRIC_KEYS).join(", ")} or ${EMA_METRIC_PREFIX}<name>`,
        })
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
    const { db } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
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

export const MetricKeyListSchema = z
  .object({
    items: z.array(
      z.object({
        key: z.string(),
        description: z.string(),
        count: z.number().int().openapi({ description: "Values stored (one per epoch reported)." }),
        lastStep: z.number().int(),
      }),
    ),
  })
  .openapi("MetricKeyList");

export const listMetricKeysRoute = defineRoute({
  method: "get",
  operationId: "listRunMetricKeys",
  path: "/v1/runs/{id}/metrics/keys",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "The metric keys a run has values for, with what each measures",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: {
      description: "Every key, by name",
      content: { "application/json": { schema: MetricKeyListSchema } },
    },
  },
});

export function registerListMetricKeys(app: OpenAPIHono<AppEnv>) {
  app.openapi(listMetricKeysRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const rows = await metricKeysOfRun(db, id);
    const items = rows.map((row) => ({
      key: row.key,
      // Every stored key is one of the scheme's (core/metric-keys.ts writes them).
      description: metricKeyDescription(row.key) ?? "",
      count: row.count,
      lastStep: row.lastStep ?? 0,
    }));
    return c.json({ items }, 200);
  });
}
