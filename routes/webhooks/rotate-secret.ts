import type { OpenAPIHono } from "@hono/zod-openapi";
import { rotateSecret } from "../../db/webhooks.ts";
import { newSecret } from "../../src/events/webhooks/signature.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { toWebhook, WebhookWithSecretSchema } from "./schema.ts";

/** How long the old secret keeps signing beside the new one (Standard Webhooks: multiple signatures). */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3_600_000;

export const rotateWebhookSecretRoute = defineRoute({
  operationId: "rotateWebhookSecret",
  method: "post",
  path: "/v1/webhooks/{id}/rotate-secret",
  access: MEMBERS,
  problems: [404],
  tags: ["webhooks"],
  summary: "Replace the signing secret; the old one keeps signing beside it for 24 hours",
  description:
    "For 24 hours every delivery carries two signatures in `webhook-signature` (space-separated), " +
    "one per secret, so receivers can switch to the new secret without rejecting a delivery.",
  request: { params: IdParamsSchema("whk") },
  responses: {
    200: {
      description: "The endpoint with its new secret (shown only here)",
      content: { "application/json": { schema: WebhookWithSecretSchema } },
    },
  },
});

export function registerRotateWebhookSecret(app: OpenAPIHono<AppEnv>) {
  app.openapi(rotateWebhookSecretRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock } = c.get("services");
    const secret = newSecret();
    const row = await rotateSecret(db, c.get("projectId"), id, secret, clock() + PREVIOUS_SECRET_GRACE_MS);
    if (!row) throw notFound("webhook", id);
    return c.json(WebhookWithSecretSchema.parse({ ...toWebhook(row), secret }), 200);
  });
}
