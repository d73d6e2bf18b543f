import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { listExperiments, runCountsOfExperiments } from "../../db/experiments.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { cursorParam, encodeCursor, limitParam } from "../common/cursor.ts";
import {
  createdSinceParam,
  createdUntilParam,
  nameParam,
  sortParam,
  tagParam,
  textSearchParam,
} from "../common/query.ts";
import { defineRoute } from "../common/route.ts";
import { ExperimentPageSchema, toExperimentSummary } from "./schema.ts";

const ExperimentPosition = z.object({ id: z.string() });

export const listExperimentsRoute = defineRoute({
  method: "get",
  operationId: "listExperiments",
  path: "/v1/experiments",
  access: MEMBERS,
  tags: ["experiments"],
  summary: "Experiments, newest first, a page at a time, with their run counts by state",
  description:
    "Runs are not inlined (an experiment may have thousands): page them with `/v1/experiments/{id}/runs`, " +
    "or list them across experiments with `/v1/runs`. An unknown query parameter is a 422 naming it.",
  request: {
    query: z.object({
      tag: tagParam(),
      name: nameParam("the experiment's name"),
      q: textSearchParam("the experiment's name or note"),
      since: createdSinceParam(),
      until: createdUntilParam(),
      sort: sortParam(),
      cursor: cursorParam(ExperimentPosition),
      limit: limitParam(20, 100),
    }),
  },
  responses: {
    200: { description: "One page", content: { "application/json": { schema: ExperimentPageSchema } } },
  },
});

export function registerListExperiments(app: OpenAPIHono<AppEnv>) {
  app.openapi(listExperimentsRoute, async (c) => {
    const { tag, name, q, since, until, sort, cursor, limit } = c.req.valid("query");
    const { db } = c.get("services");
    const rows = await listExperiments(
      db,
      {
        projectId: c.get("projectId"),
        ...(tag ? { tags: tag } : {}),
        ...(name !== undefined ? { name } : {}),
        ...(q !== undefined ? { text: q } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      },
      { newestFirst: sort === "-createdAt", limit: limit + 1, ...(cursor ? { after: cursor.id } : {}) },
    );
    const page = rows.slice(0, limit);
    const counts = await runCountsOfExperiments(
      db,
      page.map((e) => e.id),
    );
    const last = page.at(-1);
    return c.json(
      {
        items: page.map((e) =>
          toExperimentSummary(
            e,
            counts.filter((r) => r.experimentId === e.id),
          ),
        ),
        nextCursor: rows.length > limit && last ? encodeCursor({ id: last.id }) : null,
      },
      200,
    );
  });
}
