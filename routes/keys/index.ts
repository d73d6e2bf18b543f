import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerCreateKey } from "./create.ts";
import { registerListKeys } from "./list.ts";
import { registerRevokeKey } from "./revoke.ts";

/** Admin routes (the role check is src/auth/middleware.ts's, by path). */
export function registerKeyRoutes(app: OpenAPIHono<AppEnv>) {
  registerCreateKey(app);
  registerListKeys(app);
  registerRevokeKey(app);
}
