import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { getDelivery, redeliver } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError, problemResponses } from "../common/problem.ts";
import { MessageQueuedSchema } from "./schema.ts";

export const redeliverRoute = createRoute({
  operationId: "redeliverWebhookDelivery",
  method: "post",
  path: "/v1/webhook-deliveries/{id}/redeliver",
  tags: ["webhooks"],
  summary: "Send a delivery's message again now, with the same `webhook-id`, on a fresh retry schedule",
  request: { params: IdParamsSchema("dlv") },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: MessageQueuedSchema } } },
    ...problemResponses(404, 409, 422),
  },
});

export function registerRedeliver(app: OpenAPIHono<AppEnv>) {
  app.openapi(redeliverRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, webhooks } = c.var.services;
    const found = await getDelivery(db, c.var.projectId, id);
    if (!found) throw notFound("webhook delivery", id);
    const { delivery, endpoint } = found;
    if (!endpoint.enabled) throw new ProblemError("webhook_disabled", endpoint.disabledReason ?? undefined);
    if (!(await redeliver(db, delivery.outboxId, clock()))) throw notFound("webhook delivery", id);
    webhooks.wake();
    return c.json({ messageId: delivery.messageId, webhookId: endpoint.id, type: delivery.type }, 202);
  });
}
