import type { OpenAPIHono } from "@hono/zod-openapi";
import { getRun, isRunInProject, resumeRun } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { RunSchema, toRun } from "./schema.ts";

export const resumeRunRoute = defineRoute({
  method: "post",
  operationId: "resumeRun",
  path: "/v1/runs/{id}/resume",
  access: MEMBERS,
  problems: [404, 409],
  tags: ["runs"],
  summary: "Resume a paused run: it is queued again and continues from the checkpoint of its pause",
  description:
    "Records `run.resumed`. The run continues bit for bit as if it had not stopped (same backend). " +
    "A run that is not `paused` answers 409 `run_not_paused`.",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: { description: "Queued again", content: { "application/json": { schema: RunSchema } } },
  },
});

export function registerResumeRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(resumeRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, dispatcher, events } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const resumed = await resumeRun(db, id, clock());
    if (!resumed) {
      const run = await getRun(db, id);
      if (!run) throw notFound("run", id);
      const why = run.state === "paused" ? "being cancelled" : run.state;
      throw new ProblemError("run_not_paused", `run ${id} is ${why}, not paused`);
    }
    await events.record(id, resumed.attempt, { type: "run.resumed" }, null);
    dispatcher.wake();
    const run = await getRun(db, id);
    if (!run) throw notFound("run", id);
    return c.json(toRun(run), 200);
  });
}
