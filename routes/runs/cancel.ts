import type { OpenAPIHono } from "@hono/zod-openapi";
import { getRun, isRunInProject, requestCancel } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { RunSchema, toRun } from "./schema.ts";

export const cancelRunRoute = defineRoute({
  method: "post",
  operationId: "cancelRun",
  path: "/v1/runs/{id}/cancel",
  access: MEMBERS,
  problems: [404, 409],
  tags: ["runs"],
  summary: "Cancel a run gracefully: it stops at the next step boundary and keeps its checkpoint",
  description:
    "Accepted for a queued, running or paused run (repeating it is harmless); a queued or paused one is cancelled at once. The run becomes `cancelled` when " +
    "its trainer stops; follow `/v1/runs/{id}/events` for the `run.failed` event with reason `cancelled`.",
  request: { params: IdParamsSchema("run") },
  responses: {
    202: {
      description: "Cancellation requested",
      content: { "application/json": { schema: RunSchema } },
    },
  },
});

export function registerCancelRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(cancelRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, dispatcher } = c.get("services");
    // Ownership never changes, so checking it first leaves the cancel a single statement.
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const flagged = await requestCancel(db, id, clock());
    if (!flagged) {
      const run = await getRun(db, id);
      if (!run) throw notFound("run", id);
      throw new ProblemError("run_not_cancellable", `run ${id} is already ${run.state}`);
    }
    await dispatcher.cancel(id);
    const run = await getRun(db, id);
    if (!run) throw notFound("run", id);
    return c.json(toRun(run), 202);
  });
}
