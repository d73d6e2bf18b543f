import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { revokeKey } from "../../db/keys.ts";
import type { AppEnv } from "../../src/services.ts";
import { ADMINS } from "../common/access.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { keyScopeOf } from "./scope.ts";

export const revokeKeyRoute = defineRoute({
  operationId: "revokeKey",
  method: "delete",
  path: "/v1/keys/{id}",
  access: ADMINS,
  problems: [404, 409],
  tags: ["keys"],
  summary: "Revoke a key at once; revoking a revoked key is harmless",
  description:
    "The next request with the key to this server is 401, and its stream tokens stop working; other " +
    "servers (replicas, Workers isolates) that verified it recently accept it for at most " +
    "`AUTOPROG_KEY_CACHE_SECONDS` more. An admin key revokes " +
    "its own project's keys (any other id is 404); an operator key any key. A project's last live " +
    "admin key, and the last live operator key, cannot be revoked (409 `last_admin_key`): create " +
    "another first.",
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: "id", in: "path" }, example: "key_01hzx3k8q4tqkz3w5v9b2m7n6c" }),
    }),
  },
  responses: {
    204: { description: "Revoked" },
  },
});

export function registerRevokeKey(app: OpenAPIHono<AppEnv>) {
  app.openapi(revokeKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, auth } = c.get("services");
    const outcome = await revokeKey(db, id, clock(), keyScopeOf(c));
    // This process stops accepting the key now; others within their cache time (AUTOPROG_KEY_CACHE_SECONDS).
    if (outcome === "revoked" || outcome === "already_revoked") auth.verifiedKeys.forget(id);
    if (outcome === "not_found") throw notFound("key", id);
    if (outcome === "last_admin_key" || outcome === "last_operator_key") {
      const what = outcome === "last_admin_key" ? "admin key of its project" : "operator key";
      throw new ProblemError("last_admin_key", `${id} is the last live ${what}; create another first`);
    }
    return c.body(null, 204);
  });
}
