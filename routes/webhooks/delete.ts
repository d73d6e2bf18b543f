import type { OpenAPIHono } from "@hono/zod-openapi";
import { deleteEndpoint } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";

export const deleteWebhookRoute = defineRoute({
  operationId: "deleteWebhook",
  method: "delete",
  path: "/v1/webhooks/{id}",
  access: MEMBERS,
  problems: [404],
  tags: ["webhooks"],
  summary: "Delete a webhook endpoint with its pending messages and delivery log",
  request: { params: IdParamsSchema("whk") },
  responses: {
    204: { description: "Deleted" },
  },
});

export function registerDeleteWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(deleteWebhookRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deleteEndpoint(c.get("services").db, c.get("projectId"), id))) throw notFound("webhook", id);
    return c.body(null, 204);
  });
}
