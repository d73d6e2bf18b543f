import type { OpenAPIHono } from "@hono/zod-openapi";
import { createKey } from "../../db/keys.ts";
import { hashKey, newKey } from "../../src/auth/keys.ts";
import type { AppEnv } from "../../src/services.ts";
import { ADMINS } from "../common/access.ts";
import { defineRoute, LOCATION_HEADER } from "../common/route.ts";
import { CreatedKeySchema, CreateKeySchema, toKey } from "./schema.ts";
import { projectOfRequest } from "./scope.ts";

export const createKeyRoute = defineRoute({
  operationId: "createKey",
  method: "post",
  path: "/v1/keys",
  access: ADMINS,
  problems: [400],
  tags: ["keys"],
  summary: "Create an API key: an admin for its own project, an operator for any (creating it when new)",
  description:
    "The answer holds the key itself, the only time it is shown: the server keeps its SHA-256. " +
    "`project` left out is the caller's own; an admin key naming another project is 403 (the " +
    "problem names `project`). Operator keys are never created over HTTP.",
  request: { body: { required: true, content: { "application/json": { schema: CreateKeySchema } } } },
  responses: {
    201: {
      description: "The key, with its secret",
      headers: LOCATION_HEADER,
      content: { "application/json": { schema: CreatedKeySchema } },
    },
  },
});

export function registerCreateKey(app: OpenAPIHono<AppEnv>) {
  app.openapi(createKeyRoute, async (c) => {
    const { project, role, name } = c.req.valid("json");
    const projectId = projectOfRequest(c, project, "body");
    const { db, clock } = c.get("services");
    const key = newKey();
    const row = await createKey(db, {
      projectId,
      role,
      name,
      hash: await hashKey(key),
      now: clock(),
    });
    c.header("Location", `/v1/keys/${row.id}`);
    return c.json(CreatedKeySchema.parse({ ...toKey(row), key }), 201);
  });
}
