import type { OpenAPIHono } from "@hono/zod-openapi";
import { newId } from "../../db/ids.ts";
import { enqueueMessage, getEndpoint } from "../../db/webhooks.ts";
import { webhookBody } from "../../src/core/webhook-events.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { MessageQueuedSchema } from "./schema.ts";

export const testWebhookRoute = defineRoute({
  operationId: "testWebhook",
  method: "post",
  path: "/v1/webhooks/{id}/test",
  access: MEMBERS,
  problems: [404, 409],
  tags: ["webhooks"],
  summary: "Send a `webhook.test` message to the endpoint now",
  description:
    "The message is queued due now and the deliverer is woken; its attempts show in " +
    "`/v1/webhooks/{id}/deliveries` and follow the same retry schedule as any message.",
  request: { params: IdParamsSchema("whk") },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: MessageQueuedSchema } } },
  },
});

export function registerTestWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(testWebhookRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, webhooks } = c.get("services");
    const endpoint = await getEndpoint(db, c.get("projectId"), id);
    if (!endpoint) throw notFound("webhook", id);
    if (!endpoint.enabled) throw new ProblemError("webhook_disabled", endpoint.disabledReason ?? undefined);
    const now = clock();
    const messageId = newId("msg", now);
    const body = webhookBody("webhook.test", now, { webhookId: id, message: "a test message from autoprog" });
    await enqueueMessage(db, { endpointId: id, messageId, type: "webhook.test", body, now });
    webhooks.wake();
    return c.json({ messageId, webhookId: id, type: "webhook.test" }, 202);
  });
}
