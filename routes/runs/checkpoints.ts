import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isRunInProject } from "../../db/runs.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { checkpointStoreOf } from "../workers/lease-state.ts";

export const CheckpointSchema = z
  .object({
    epoch: z.number().int().openapi({ description: "Epochs the checkpoint covers." }),
    bytes: z.number().int().openapi({ description: "Its size as the server stores it." }),
    url: z.string().openapi({ description: "The packed checkpoint (`GET`, same key)." }),
    modelUrl: z.string().openapi({
      description: "Its online weights as safetensors; add `&weights=ema-<name>` for an EMA copy.",
    }),
  })
  .openapi("Checkpoint");

export const CheckpointListSchema = z.object({ items: z.array(CheckpointSchema) }).openapi("CheckpointList");

export const listCheckpointsRoute = defineRoute({
  method: "get",
  operationId: "listRunCheckpoints",
  path: "/v1/runs/{id}/checkpoints",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "The checkpoints the server holds for a run, oldest first",
  description:
    "While a run trains the newest two are kept and each one that closes a stage; once it ends, the " +
    "newest `AUTOPROG_KEEP_CHECKPOINTS` (0: none) and, with `AUTOPROG_KEEP_STAGE_CHECKPOINTS`, those " +
    "closing a stage. 503 when the server has no checkpoint store.",
  request: { params: IdParamsSchema("run") },
  responses: {
    200: {
      description: "The checkpoints",
      content: { "application/json": { schema: CheckpointListSchema } },
    },
  },
});

export function registerListCheckpoints(app: OpenAPIHono<AppEnv>) {
  app.openapi(listCheckpointsRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await isRunInProject(c.get("services").db, id, c.get("projectId")))) throw notFound("run", id);
    const stored = await checkpointStoreOf(c).list(id);
    const items = stored.map(({ epoch, bytes }) => ({
      epoch,
      bytes,
      url: `/v1/runs/${id}/checkpoints/${epoch}`,
      modelUrl: `/v1/runs/${id}/model?epoch=${epoch}`,
    }));
    return c.json({ items }, 200);
  });
}
