import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { projectQueueCounts, queuedRunsOfProject } from "../../db/queue.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, limitParam } from "../common/cursor.ts";
import { defineRoute } from "../common/route.ts";
import { QueuePageSchema, toQueuedRun } from "./schema.ts";

const QueueCursor = z.object({ createdAt: z.number(), position: z.number().int(), id: z.string() });

export const getQueueRoute = defineRoute({
  method: "get",
  operationId: "getQueue",
  path: "/v1/queue",
  access: MEMBERS,
  tags: ["runs"],
  summary: "The caller's project in the run queue: its queued runs with their positions",
  description:
    "Trainers are shared fairly: each claim serves the project with the fewest runs training, " +
    "then the one served longest ago, then its oldest run, and a project at its quota " +
    "(`projectMaxRunning`) waits. So `position` is the run's place among its own project's " +
    "runs; other projects' runs take turns with them, not places ahead of them.",
  request: { query: z.object({ cursor: cursorParam(QueueCursor), limit: limitParam(50, 500) }) },
  responses: {
    200: { description: "One page", content: { "application/json": { schema: QueuePageSchema } } },
  },
});

export function registerGetQueue(app: OpenAPIHono<AppEnv>) {
  app.openapi(getQueueRoute, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    const { db, queuePolicy } = c.get("services");
    const projectId = c.get("projectId");
    const counts = await projectQueueCounts(db, projectId);
    const { rows, firstPosition } = await queuedRunsOfProject(db, projectId, {
      limit: limit + 1,
      ...(cursor ? { after: cursor } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const body = {
      ...counts,
      projectMaxRunning: queuePolicy?.projectMaxRunning ?? null,
      items: page.map((row, i) => toQueuedRun(row, firstPosition + i)),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAt: last.createdAt, position: last.position, id: last.id })
          : null,
    };
    return c.json(QueuePageSchema.parse(body), 200);
  });
}
