import type { OpenAPIHono } from "@hono/zod-openapi";
import { getEndpoint } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { toWebhook, WebhookSchema } from "./schema.ts";

export const getWebhookRoute = defineRoute({
  operationId: "getWebhook",
  method: "get",
  path: "/v1/webhooks/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["webhooks"],
  summary: "One webhook endpoint (without its secret), with why it was disabled if it was",
  request: { params: IdParamsSchema("whk") },
  responses: {
    200: { description: "The endpoint", content: { "application/json": { schema: WebhookSchema } } },
  },
});

export function registerGetWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(getWebhookRoute, async (c) => {
    const { id } = c.req.valid("param");
    const row = await getEndpoint(c.get("services").db, c.get("projectId"), id);
    if (!row) throw notFound("webhook", id);
    return c.json(toWebhook(row), 200);
  });
}
