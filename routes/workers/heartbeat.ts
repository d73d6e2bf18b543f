import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { WORKERS } from "../common/access.ts";
import { defineRoute } from "../common/route.ts";
import { holdLease, leaseAction } from "./lease-state.ts";
import { HeartbeatRequestSchema, HeartbeatSchema } from "./schema.ts";

export const heartbeatRoute = defineRoute({
  method: "post",
  operationId: "heartbeatLease",
  path: "/v1/workers/heartbeat",
  access: WORKERS,
  problems: [404, 409],
  tags: ["workers"],
  summary: "Extend a run's lease; says whether to go on, cancel or pause",
  description:
    "409 `lease_lost` when the token no longer holds the lease (it expired and the run was " +
    "re-queued, or the run ended): stop training that run.",
  request: { body: { content: { "application/json": { schema: HeartbeatRequestSchema } }, required: true } },
  responses: {
    200: { description: "The lease, extended", content: { "application/json": { schema: HeartbeatSchema } } },
  },
});

export function registerHeartbeat(app: OpenAPIHono<AppEnv>) {
  app.openapi(heartbeatRoute, async (c) => {
    const { runId, token } = c.req.valid("json");
    const lease = await holdLease(c, runId, token);
    return c.json(
      {
        action: leaseAction(lease),
        expiresAt: new Date(lease.expiresAt).toISOString(),
      },
      200,
    );
  });
}
