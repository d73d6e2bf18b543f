import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { databaseResponds } from "../../db/database.ts";
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
    const { db, clock } = c.get("services");
    await databaseResponds(db);
    return c.json({ status: "ok" as const, time: new Date(clock()).toISOString() }, 200);
  });
}
