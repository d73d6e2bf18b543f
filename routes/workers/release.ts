import type { OpenAPIHono } from "@hono/zod-openapi";
import { releaseRun } from "../../db/queue.ts";
import { isRunInProject } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { WORKERS } from "../common/access.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { ReleasedSchema, ReleaseRequestSchema } from "./schema.ts";

export const releaseRoute = defineRoute({
  method: "post",
  operationId: "releaseLease",
  path: "/v1/workers/release",
  access: WORKERS,
  problems: [404],
  tags: ["workers"],
  summary: "Hand a leased run back to the queue without using an attempt (a worker that shuts down)",
  description:
    "The run is queued again and resumes, on any worker, from the newest checkpoint its log names; " +
    "work since that checkpoint is redone.",
  request: { body: { content: { "application/json": { schema: ReleaseRequestSchema } }, required: true } },
  responses: {
    200: {
      description: "Handed back (or not held)",
      content: { "application/json": { schema: ReleasedSchema } },
    },
  },
});

export function registerRelease(app: OpenAPIHono<AppEnv>) {
  app.openapi(releaseRoute, async (c) => {
    const { runId, token } = c.req.valid("json");
    const { db, clock, dispatcher } = c.get("services");
    if (!(await isRunInProject(db, runId, c.get("projectId")))) throw notFound("run", runId);
    const released = await releaseRun(db, { runId, owner: token, now: clock(), refundAttempt: true });
    if (released) dispatcher.wake();
    return c.json({ released }, 200);
  });
}
