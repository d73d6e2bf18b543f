import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { deleteEndpoint } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, problemResponses } from "../common/problem.ts";

export const deleteWebhookRoute = createRoute({
  operationId: "deleteWebhook",
  method: "delete",
  path: "/v1/webhooks/{id}",
  tags: ["webhooks"],
  summary: "Delete a webhook endpoint with its pending messages and delivery log",
  request: { params: IdParamsSchema("whk") },
  responses: {
    204: { description: "Deleted" },
    ...problemResponses(404, 422),
  },
});

export function registerDeleteWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(deleteWebhookRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deleteEndpoint(c.var.services.db, c.var.projectId, id))) throw notFound("webhook", id);
    return c.body(null, 204);
  });
}
