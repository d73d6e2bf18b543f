import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listKeys } from "../../db/keys.ts";
import type { AppEnv } from "../../src/services.ts";
import { problemResponses } from "../common/problem.ts";
import { bearerSecurity } from "../common/security.ts";
import { KeyListSchema, ProjectName, toKey } from "./schema.ts";

export const listKeysRoute = createRoute({
  operationId: "listKeys",
  method: "get",
  path: "/v1/keys",
  tags: ["keys"],
  summary: "Every project's keys, revoked ones included, oldest first (admin; no secrets)",
  security: bearerSecurity,
  request: {
    query: z.object({
      project: ProjectName.optional().openapi({
        param: { name: "project", in: "query" },
        description: "Only this project's keys.",
      }),
    }),
  },
  responses: {
    200: { description: "The keys", content: { "application/json": { schema: KeyListSchema } } },
    ...problemResponses(401, 403, 422, 429),
  },
});

export function registerListKeys(app: OpenAPIHono<AppEnv>) {
  app.openapi(listKeysRoute, async (c) => {
    const { project } = c.req.valid("query");
    const rows = await listKeys(c.var.services.db, project !== undefined ? { projectId: project } : {});
    return c.json({ items: rows.map(toKey) }, 200);
  });
}
