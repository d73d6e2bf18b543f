import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { listKeys } from "../../db/keys.ts";
import type { AppEnv } from "../../src/services.ts";
import { ADMINS } from "../common/access.ts";
import { defineRoute } from "../common/route.ts";
import { KeyListSchema, ProjectName, toKey } from "./schema.ts";
import { keyScopeOf, projectOfRequest } from "./scope.ts";

export const listKeysRoute = defineRoute({
  operationId: "listKeys",
  method: "get",
  path: "/v1/keys",
  access: ADMINS,
  tags: ["keys"],
  summary: "The keys the caller manages, revoked ones included, oldest first (no secrets)",
  description:
    "An admin key sees its own project's keys (operator keys left out); `project` naming another " +
    "project is 403. An operator key sees every project's keys, or `project`'s.",
  request: {
    query: z.object({
      project: ProjectName.optional().openapi({
        param: { name: "project", in: "query" },
        description: "Only this project's keys (an admin key: its own project only).",
      }),
    }),
  },
  responses: {
    200: { description: "The keys", content: { "application/json": { schema: KeyListSchema } } },
  },
});

export function registerListKeys(app: OpenAPIHono<AppEnv>) {
  app.openapi(listKeysRoute, async (c) => {
    const { project } = c.req.valid("query");
    const scope = keyScopeOf(c);
    const projectId = project === undefined ? scope?.projectId : projectOfRequest(c, project, "query");
    const rows = await listKeys(c.get("services").db, {
      ...(projectId !== undefined ? { projectId } : {}),
      withOperators: scope === null,
    });
    return c.json({ items: rows.map(toKey) }, 200);
  });
}
