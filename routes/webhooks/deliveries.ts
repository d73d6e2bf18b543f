import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { getEndpoint, listDeliveries } from "../../db/webhooks.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, IdParamsSchema, limitParam } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { DeliveryPageSchema, toDelivery } from "./schema.ts";

const DeliveryPosition = z.object({ id: z.string() });

export const listDeliveriesRoute = defineRoute({
  operationId: "listWebhookDeliveries",
  method: "get",
  path: "/v1/webhooks/{id}/deliveries",
  access: MEMBERS,
  problems: [404],
  tags: ["webhooks"],
  summary: "The endpoint's delivery attempts, newest first: attempt, status, duration, error",
  request: {
    params: IdParamsSchema("whk"),
    query: z.object({ cursor: cursorParam(DeliveryPosition), limit: limitParam(50, 200) }),
  },
  responses: {
    200: { description: "One page", content: { "application/json": { schema: DeliveryPageSchema } } },
  },
});

export function registerListDeliveries(app: OpenAPIHono<AppEnv>) {
  app.openapi(listDeliveriesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { cursor, limit } = c.req.valid("query");
    const { db } = c.get("services");
    if (!(await getEndpoint(db, c.get("projectId"), id))) throw notFound("webhook", id);
    const rows = await listDeliveries(db, id, { limit: limit + 1, ...(cursor ? { before: cursor.id } : {}) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        items: page.map(toDelivery),
        nextCursor: rows.length > limit && last ? encodeCursor({ id: last.id }) : null,
      },
      200,
    );
  });
}
