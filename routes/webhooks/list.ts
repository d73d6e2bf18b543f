import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { listEndpoints } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, limitParam } from "../common/cursor.ts";
import { defineRoute } from "../common/route.ts";
import { toWebhook, WebhookPageSchema } from "./schema.ts";

const WebhookPosition = z.object({ id: z.string() });

export const listWebhooksRoute = defineRoute({
  operationId: "listWebhooks",
  method: "get",
  path: "/v1/webhooks",
  access: MEMBERS,
  tags: ["webhooks"],
  summary: "The project's webhook endpoints, newest first, a page at a time",
  request: { query: z.object({ cursor: cursorParam(WebhookPosition), limit: limitParam(20, 100) }) },
  responses: {
    200: { description: "One page", content: { "application/json": { schema: WebhookPageSchema } } },
  },
});

export function registerListWebhooks(app: OpenAPIHono<AppEnv>) {
  app.openapi(listWebhooksRoute, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    const rows = await listEndpoints(c.get("services").db, c.get("projectId"), {
      limit: limit + 1,
      ...(cursor ? { before: cursor.id } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        items: page.map(toWebhook),
        nextCursor: rows.length > limit && last ? encodeCursor({ id: last.id }) : null,
      },
      200,
    );
  });
}
