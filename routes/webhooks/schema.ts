import { z } from "@hono/zod-openapi";
import type { DeliveryRow, WebhookEndpointRow } from "../../db/webhooks.ts";
import { RENAMED_WEBHOOK_TYPES, WEBHOOK_EVENT_TYPES } from "../../src/core/webhook-events.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const WebhookEventTypeSchema = z
  .enum(WEBHOOK_EVENT_TYPES, {
    // A subscriber still using a renamed type is told the new name.
    error: (issue) => {
      const renamed = typeof issue.input === "string" ? RENAMED_WEBHOOK_TYPES[issue.input] : undefined;
      return renamed ? `renamed ${renamed}` : undefined;
    },
  })
  .openapi("WebhookEventType");

export const CreateWebhookSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .openapi({ example: "https://example.com/hooks/autoprog" }),
    events: z.array(WebhookEventTypeSchema).min(1).max(WEBHOOK_EVENT_TYPES.length),
    description: z.string().max(500).optional(),
  })
  .openapi("CreateWebhook");

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(WebhookEventTypeSchema),
    /** False once the deliverer gave up on it (410 Gone, or every attempt of a message failed). */
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    disabledAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi("Webhook");

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description: "The signing secret (`whsec_` + base64). Shown only in this answer: store it now.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).openapi("WebhookWithSecret");

export const WebhookPageSchema = z
  .object({ items: z.array(WebhookSchema), nextCursor: z.string().nullable() })
  .openapi("WebhookPage");

export const DeliverySchema = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    /** The `webhook-id` header: the same on every attempt of the message. */
    messageId: z.string(),
    type: z.string(),
    /** 1 for the first attempt of the message, counting on across retries and redeliveries. */
    attempt: z.number().int(),
    /** The receiver's HTTP status; null when none came (refused, timeout, network error). */
    status: z.number().int().nullable(),
    durationMs: z.number().int(),
    error: z.string().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi("WebhookDelivery");

export const DeliveryPageSchema = z
  .object({ items: z.array(DeliverySchema), nextCursor: z.string().nullable() })
  .openapi("WebhookDeliveryPage");

export const MessageQueuedSchema = z
  .object({ messageId: z.string(), webhookId: z.string(), type: z.string() })
  .openapi("WebhookMessageQueued");

export function toWebhook(row: WebhookEndpointRow) {
  return WebhookSchema.parse({
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: iso(row.disabledAt),
    createdAt: iso(row.createdAt),
  });
}

export function toDelivery(row: DeliveryRow) {
  return DeliverySchema.parse({
    id: row.id,
    webhookId: row.endpointId,
    messageId: row.messageId,
    type: row.type,
    attempt: row.attempt,
    status: row.status,
    durationMs: row.durationMs,
    error: row.error,
    createdAt: iso(row.createdAt),
  });
}
