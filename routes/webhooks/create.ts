import type { OpenAPIHono } from "@hono/zod-openapi";
import { newId } from "../../db/ids.ts";
import { createEndpoint } from "../../db/webhooks.ts";
import { refusalOf } from "../../src/events/webhooks/address-guard.ts";
import { newSecret } from "../../src/events/webhooks/signature.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { ProblemError } from "../common/problem.ts";
import { defineRoute, LOCATION_HEADER } from "../common/route.ts";
import { CreateWebhookSchema, toWebhook, WebhookWithSecretSchema } from "./schema.ts";

export const createWebhookRoute = defineRoute({
  operationId: "createWebhook",
  method: "post",
  path: "/v1/webhooks",
  access: MEMBERS,
  problems: [400],
  tags: ["webhooks"],
  summary: "Register a webhook endpoint; the answer shows its signing secret, once",
  description:
    "Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). " +
    "A URL that resolves to a loopback, private, link-local or metadata address is refused (422 " +
    "naming `url`) unless the server runs with `AUTOPROG_WEBHOOK_ALLOW_PRIVATE=true`.",
  request: { body: { required: true, content: { "application/json": { schema: CreateWebhookSchema } } } },
  responses: {
    201: {
      description: "The endpoint with its secret",
      headers: LOCATION_HEADER,
      content: { "application/json": { schema: WebhookWithSecretSchema } },
    },
  },
});

export function registerCreateWebhook(app: OpenAPIHono<AppEnv>) {
  app.openapi(createWebhookRoute, async (c) => {
    const input = c.req.valid("json");
    const { db, clock, webhooks } = c.get("services");
    const refusal = await refusalOf(input.url, webhooks.policy);
    if (refusal !== null) {
      throw new ProblemError("validation_failed", "the body is not valid", [
        { location: "body", path: "url", message: refusal },
      ]);
    }
    const now = clock();
    const row = {
      id: newId("whk", now),
      projectId: c.get("projectId"),
      url: input.url,
      description: input.description ?? null,
      // Stored in the order the enum lists them, each once.
      events: [...new Set(input.events)],
      secret: newSecret(),
      createdAt: now,
    };
    await createEndpoint(db, row);
    const stored = { ...row, previousSecret: null, previousSecretExpiresAt: null };
    const body = WebhookWithSecretSchema.parse({
      ...toWebhook({ ...stored, enabled: true, disabledReason: null, disabledAt: null }),
      secret: row.secret,
    });
    c.header("Location", `/v1/webhooks/${row.id}`);
    return c.json(body, 201);
  });
}
