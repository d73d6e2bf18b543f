import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { getExperiment } from "../../db/experiments.ts";
import { getRunInProject, trainingSpecOf } from "../../db/runs.ts";
import {
  checkpointToSafetensors,
  ModelWeightsSchema,
  UnknownWeightsError,
} from "../../src/checkpoints/model-export.ts";
import { unpackCheckpoint } from "../../src/checkpoints/wire.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { checkpointStoreOf } from "../workers/lease-state.ts";

const SAFETENSORS = "application/octet-stream";

export const getModelRoute = defineRoute({
  method: "get",
  operationId: "getRunModel",
  path: "/v1/runs/{id}/model",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "Download a run's trained weights as safetensors (online model or an EMA copy)",
  description:
    "The weights of the run's newest checkpoint (or of `epoch`), in the safetensors format: the " +
    "blocks the model runs, numbered from 0, with the architecture and the input side in the " +
    "file's `__metadata__`. Tensor names and their timm counterparts: docs/model-files.md. A " +
    "finished run's final model is its newest checkpoint. 404 when the run has no checkpoint " +
    "(none written yet, or the server keeps none: `AUTOPROG_KEEP_CHECKPOINTS=0`); 422 naming " +
    "`weights` when the run holds no such EMA copy; 503 when the server has no checkpoint store.",
  request: {
    params: IdParamsSchema("run"),
    query: z.object({
      weights: ModelWeightsSchema.default("online").openapi({
        param: { name: "weights", in: "query" },
        description:
          "`online` (the trained model) or `ema-<name>` (an EMA copy the spec's `training.ema` names).",
        example: "ema-slow",
      }),
      epoch: z
        .string()
        .regex(/^\d{1,9}$/, "must be a whole number of epochs")
        .optional()
        .openapi({
          param: { name: "epoch", in: "query" },
          description: "A checkpoint the run holds (`GET /v1/runs/{id}/checkpoints`); absent: the newest.",
        }),
    }),
  },
  responses: {
    200: {
      description: "The safetensors file (`Content-Disposition` names it)",
      content: { [SAFETENSORS]: { schema: z.string().openapi({ format: "binary" }) } },
    },
  },
});

export function registerGetModel(app: OpenAPIHono<AppEnv>) {
  app.openapi(getModelRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { weights, epoch: asked } = c.req.valid("query");
    const { db } = c.get("services");
    const run = await getRunInProject(db, id, c.get("projectId"));
    const experiment = run && (await getExperiment(db, run.experimentId));
    if (!run || !experiment) throw notFound("run", id);
    const { dataset } = trainingSpecOf(run, experiment);
    const store = checkpointStoreOf(c);
    const epoch = asked !== undefined ? Number(asked) : (await store.list(id)).at(-1)?.epoch;
    const body = epoch === undefined ? null : await store.get(id, epoch);
    if (epoch === undefined || !body)
      throw new ProblemError(
        "not_found",
        asked !== undefined
          ? `run ${id} has no checkpoint of epoch ${asked} (GET /v1/runs/${id}/checkpoints lists them)`
          : `run ${id} has no checkpoint: none written yet, or the server keeps none`,
      );
    let file: Uint8Array<ArrayBuffer>;
    try {
      file = checkpointToSafetensors(unpackCheckpoint(body), { runId: id, weights, dataset: dataset.name });
    } catch (error) {
      if (!(error instanceof UnknownWeightsError)) throw error;
      throw new ProblemError("validation_failed", error.message, [
        { location: "query", path: "weights", message: error.message },
      ]);
    }
    return c.body(file, 200, {
      "Content-Type": SAFETENSORS,
      "Content-Disposition": `attachment; filename="${id}-${weights}-epoch-${epoch}.safetensors"`,
    });
  });
}
