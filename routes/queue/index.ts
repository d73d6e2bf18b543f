import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerGetQueue } from "./get.ts";

export function registerQueueRoutes(app: OpenAPIHono<AppEnv>) {
  registerGetQueue(app);
}
