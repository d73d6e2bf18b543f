import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { candidatesOfRun, isRunInProject } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { CandidateSchema, toCandidate } from "./schema.ts";

export const CandidateListSchema = z
  .object({ items: z.array(CandidateSchema) })
  .openapi("SearchCandidateList");

export const listCandidatesRoute = defineRoute({
  method: "get",
  operationId: "listRunSearchCandidates",
  path: "/v1/runs/{id}/search",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "Every candidate of every stage's architecture search (empty for arms that do not search)",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: {
      description: "Candidates by stage, then index",
      content: { "application/json": { schema: CandidateListSchema } },
    },
  },
});

export function registerListCandidates(app: OpenAPIHono<AppEnv>) {
  app.openapi(listCandidatesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    return c.json({ items: (await candidatesOfRun(db, id)).map(toCandidate) }, 200);
  });
}
