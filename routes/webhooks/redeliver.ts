import type { OpenAPIHono } from "@hono/zod-openapi";
import { getDelivery, redeliver } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { MessageQueuedSchema } from "./schema.ts";

export const redeliverRoute = defineRoute({
  operationId: "redeliverWebhookDelivery",
  method: "post",
  path: "/v1/webhook-deliveries/{id}/redeliver",
  access: MEMBERS,
  problems: [404, 409],
  tags: ["webhooks"],
  summary: "Send a delivery's message again now, with the same `webhook-id`, on a fresh retry schedule",
  request: { params: IdParamsSchema("dlv") },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: MessageQueuedSchema } } },
  },
});

export function registerRedeliver(app: OpenAPIHono<AppEnv>) {
  app.openapi(redeliverRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, webhooks } = c.get("services");
    const found = await getDelivery(db, c.get("projectId"), id);
    if (!found) throw notFound("webhook delivery", id);
    const { delivery, endpoint } = found;
    if (!endpoint.enabled) throw new ProblemError("webhook_disabled", endpoint.disabledReason ?? undefined);
    if (!(await redeliver(db, delivery.outboxId, clock()))) throw notFound("webhook delivery", id);
    webhooks.wake();
    return c.json({ messageId: delivery.messageId, webhookId: endpoint.id, type: delivery.type }, 202);
  });
}
