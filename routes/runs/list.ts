import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { listRuns } from "../../db/runs.ts";
import { RUN_STATES } from "../../db/schema.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, limitParam } from "../common/cursor.ts";
import {
  createdSinceParam,
  createdUntilParam,
  listParam,
  nameParam,
  sortParam,
  tagParam,
  textSearchParam,
} from "../common/query.ts";
import { defineRoute } from "../common/route.ts";
import { RunPageSchema } from "../experiments/schema.ts";
import { toRun } from "./schema.ts";

const RunListPosition = z.object({
  createdAt: z.number().int(),
  experimentId: z.string(),
  position: z.number().int(),
});

export const listRunsRoute = defineRoute({
  method: "get",
  operationId: "listRuns",
  path: "/v1/runs",
  access: MEMBERS,
  tags: ["runs"],
  summary: "The project's runs across experiments, filtered and sorted, a page at a time",
  description:
    "Newest first by default; the runs of one experiment share its creation time and come in spec " +
    "order. List filters take comma-separated values (any of them matches); `tag` needs every tag. " +
    "An unknown query parameter is a 422 naming it.",
  request: {
    query: z.object({
      experiment: listParam(
        z.string().min(1).max(64),
        "experiment",
        "Only runs of these experiments (ids, comma-separated).",
      ),
      state: listParam(
        z.enum(RUN_STATES),
        "state",
        `Only runs in one of these states (comma-separated: ${RUN_STATES.join(", ")}).`,
      ),
      arm: listParam(
        z.string().min(1).max(100),
        "arm",
        "Only runs of these arms: the arm's kind (`prog`) or its name within the experiment (comma-separated).",
      ),
      tag: tagParam(),
      name: nameParam("the experiment's name"),
      q: textSearchParam("the experiment's name, the arm's name or the run's note"),
      since: createdSinceParam(),
      until: createdUntilParam(),
      sort: sortParam(),
      cursor: cursorParam(RunListPosition),
      limit: limitParam(50, 500),
    }),
  },
  responses: {
    200: { description: "One page", content: { "application/json": { schema: RunPageSchema } } },
  },
});

export function registerListRuns(app: OpenAPIHono<AppEnv>) {
  app.openapi(listRunsRoute, async (c) => {
    const { experiment, state, arm, tag, name, q, since, until, sort, cursor, limit } = c.req.valid("query");
    const rows = await listRuns(
      c.get("services").db,
      {
        projectId: c.get("projectId"),
        ...(experiment ? { experimentIds: experiment } : {}),
        ...(state ? { states: state } : {}),
        ...(arm ? { arms: arm } : {}),
        ...(tag ? { tags: tag } : {}),
        ...(name !== undefined ? { name } : {}),
        ...(q !== undefined ? { text: q } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      },
      { newestFirst: sort === "-createdAt", limit: limit + 1, ...(cursor ? { after: cursor } : {}) },
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        items: page.map(toRun),
        nextCursor:
          rows.length > limit && last
            ? encodeCursor({
                createdAt: last.createdAt,
                experimentId: last.experimentId,
                position: last.position,
              })
            : null,
      },
      200,
    );
  });
}
