import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { WEBHOOK_EVENTS, type WebhookEventType } from "../../src/core/webhook-events.ts";
import type { AppEnv } from "../../src/services.ts";

/** The Standard Webhooks headers of every delivery. */
const DeliveryHeadersSchema = z.object({
  "webhook-id": z.string().openapi({
    description: "The message id: the same on every retry and redelivery (use it to drop duplicates).",
    example: "msg_01hzx3k8q4tqkz3w5v9b2m7n6c_7",
  }),
  "webhook-timestamp": z
    .string()
    .openapi({ description: "Seconds since the epoch when this attempt was sent." }),
  "webhook-signature": z.string().openapi({
    description:
      "`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed by the base64-decoded " +
      "part of the secret after `whsec_`; space-separated when a rotated secret still signs too.",
  }),
});

function bodySchema(type: WebhookEventType) {
  return z
    .object({
      type: z.literal(type),
      timestamp: z.iso.datetime(),
      data: WEBHOOK_EVENTS[type].data,
    })
    .openapi(
      `${type
        .split(".")
        .map((w) => (w[0] ?? "").toUpperCase() + w.slice(1))
        .join("")}Webhook`,
    );
}

/** Documents every webhook in the OpenAPI 3.1 `webhooks` section (nothing is served here). */
export function registerWebhookEvents(app: OpenAPIHono<AppEnv>) {
  for (const type of Object.keys(WEBHOOK_EVENTS) as WebhookEventType[]) {
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      // e.g. run.stage.grown → onRunStageGrown: what a generated receiver names its handler.
      operationId: `on${type
        .split(".")
        .map((w) => (w[0] ?? "").toUpperCase() + w.slice(1))
        .join("")}`,
      tags: ["webhooks"],
      summary: WEBHOOK_EVENTS[type].summary,
      request: {
        headers: DeliveryHeadersSchema,
        body: { required: true, content: { "application/json": { schema: bodySchema(type) } } },
      },
      responses: {
        200: {
          description:
            "Any 2xx acknowledges the message; 410 disables the endpoint; anything else is retried",
        },
      },
    });
  }
}
