import type { OpenAPIHono } from "@hono/zod-openapi";
import { getRun, isRunInProject, pauseQueuedRun, requestPause } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { RunSchema, toRun } from "./schema.ts";

export const pauseRunRoute = defineRoute({
  method: "post",
  operationId: "pauseRun",
  path: "/v1/runs/{id}/pause",
  access: MEMBERS,
  problems: [404, 409],
  tags: ["runs"],
  summary: "Pause a run: it stops at the next step boundary with a checkpoint there, attempts untouched",
  description:
    "A queued run is `paused` at once. A running run gets `pauseRequested`; its trainer stops at the " +
    "next step boundary (an epoch that trains a supernet is finished first), saves a checkpoint of " +
    "that point and reports `run.paused`, and the run becomes `paused` without spending an attempt. " +
    "Pausing a paused run answers the run as it is (repeating it is harmless). A run that has ended, " +
    "or whose cancellation was asked for, answers 409 `run_not_pausable`. " +
    "`POST /v1/runs/{id}/resume` queues it again; it continues exactly where it stopped.",
  request: { params: IdParamsSchema("run") },
  responses: {
    202: {
      description: "Paused (`state: paused`), or the pause requested (`pauseRequested: true`)",
      content: { "application/json": { schema: RunSchema } },
    },
  },
});

export function registerPauseRun(app: OpenAPIHono<AppEnv>) {
  app.openapi(pauseRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, dispatcher, events } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const now = clock();
    // Two conditional statements, each a whole transition: a queued run has no trainer to ask.
    const paused = await pauseQueuedRun(db, id, now);
    if (paused) {
      await events.record(id, paused.attempt, { type: "run.paused", epoch: null, step: null }, null);
    } else if (await requestPause(db, id, now)) {
      dispatcher.pause(id);
    } else {
      const run = await getRun(db, id);
      if (!run) throw notFound("run", id);
      if (run.state !== "paused") {
        const why =
          run.cancelRequested && run.state === "running" ? "being cancelled" : `already ${run.state}`;
        throw new ProblemError("run_not_pausable", `run ${id} is ${why}`);
      }
    }
    const run = await getRun(db, id);
    if (!run) throw notFound("run", id);
    return c.json(toRun(run), 202);
  });
}
