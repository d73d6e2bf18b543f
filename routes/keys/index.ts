import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerCreateKey } from "./create.ts";
import { registerListKeys } from "./list.ts";
import { registerRevokeKey } from "./revoke.ts";

/**
 * Key management: admins for their own project, operators for every project (the role check is
 * src/auth/middleware.ts's, by path; the project scope is ./scope.ts's).
 */
export function registerKeyRoutes(app: OpenAPIHono<AppEnv>) {
  registerCreateKey(app);
  registerListKeys(app);
  registerRevokeKey(app);
}
