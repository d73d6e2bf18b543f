import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { getExperimentInProject, runsOfExperimentPage } from "../../db/experiments.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, IdParamsSchema, limitParam } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { toRun } from "../runs/schema.ts";
import { RunPageSchema } from "./schema.ts";

const RunPosition = z.object({ position: z.number().int() });

export const listExperimentRunsRoute = defineRoute({
  method: "get",
  operationId: "listExperimentRuns",
  path: "/v1/experiments/{id}/runs",
  access: MEMBERS,
  problems: [404],
  tags: ["experiments"],
  summary: "The experiment's runs in spec order (arms × seeds), a page at a time",
  request: {
    params: IdParamsSchema("exp"),
    query: z.object({ cursor: cursorParam(RunPosition), limit: limitParam(50, 500) }),
  },
  responses: {
    200: { description: "One page", content: { "application/json": { schema: RunPageSchema } } },
  },
});

export function registerListExperimentRuns(app: OpenAPIHono<AppEnv>) {
  app.openapi(listExperimentRunsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { cursor, limit } = c.req.valid("query");
    const { db } = c.get("services");
    if (!(await getExperimentInProject(db, id, c.get("projectId")))) throw notFound("experiment", id);
    const rows = await runsOfExperimentPage(db, id, {
      limit: limit + 1,
      ...(cursor ? { afterPosition: cursor.position } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        items: page.map(toRun),
        nextCursor: rows.length > limit && last ? encodeCursor({ position: last.position }) : null,
      },
      200,
    );
  });
}
