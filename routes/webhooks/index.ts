import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerCreateWebhook } from "./create.ts";
import { registerDeleteWebhook } from "./delete.ts";
import { registerListDeliveries } from "./deliveries.ts";
import { registerWebhookEvents } from "./events.ts";
import { registerGetWebhook } from "./get.ts";
import { registerListWebhooks } from "./list.ts";
import { registerRedeliver } from "./redeliver.ts";
import { registerRotateWebhookSecret } from "./rotate-secret.ts";
import { registerTestWebhook } from "./test.ts";

export function registerWebhookRoutes(app: OpenAPIHono<AppEnv>) {
  registerCreateWebhook(app);
  registerListWebhooks(app);
  registerGetWebhook(app);
  registerDeleteWebhook(app);
  registerRotateWebhookSecret(app);
  registerTestWebhook(app);
  registerListDeliveries(app);
  registerRedeliver(app);
  registerWebhookEvents(app);
}
