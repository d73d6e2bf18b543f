import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { AppEnv } from "../../src/services.ts";
import { defineRoute } from "../common/route.ts";

export const HealthSchema = z.object({ status: z.literal("ok"), time: z.iso.datetime() }).openapi("Health");

export const healthRoute = defineRoute({
  method: "get",
  operationId: "getHealth",
  path: "/healthz",
  access: "public",
  tags: ["service"],
  summary: "Liveness: the process answers and the database responds",
  responses: { 200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } } },
});

export function registerHealth(app: OpenAPIHono<AppEnv>) {
  app.openapi(healthRoute, async (c) => {
    const { db, clock } = c.var.services;
    await db.run(sql`select 1`);
    return c.json({ status: "ok" as const, time: new Date(clock()).toISOString() }, 200);
  });
}
