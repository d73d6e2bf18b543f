import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import { isRunInProject } from "../../db/runs.ts";
import { CheckpointFormatError, checkpointEpochOf, unpackCheckpoint } from "../../src/checkpoints/wire.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS, WORKERS } from "../common/access.ts";
import { limitBody } from "../common/guards.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { checkpointStoreOf, holdLease, workerSettings } from "./lease-state.ts";
import {
  CheckpointBodySchema,
  CheckpointParamsSchema,
  LEASE_TOKEN_HEADER,
  LeaseTokenHeaderSchema,
  OptionalLeaseTokenHeaderSchema,
} from "./schema.ts";

const BINARY = "application/octet-stream";

export const putCheckpointRoute = defineRoute({
  method: "put",
  operationId: "putCheckpoint",
  path: "/v1/runs/{id}/checkpoints/{epoch}",
  access: WORKERS,
  problems: [404, 409, 503],
  // Its own ceiling, after authentication: no unauthenticated client streams 256 MiB at us.
  middleware: [(c: Context<AppEnv>, next: Next) => limitBody(workerSettings(c).maxCheckpointBytes)(c, next)],
  tags: ["workers"],
  summary: "Upload a leased run's epoch checkpoint (pull workers; `worker` keys only)",
  description:
    "The body is the packed checkpoint (`application/octet-stream`, see docs/service.md, section Checkpoints and disk), at most " +
    "`AUTOPROG_MAX_CHECKPOINT_BYTES`; the 1 MiB JSON body limit does not apply. Upload it before " +
    "posting the `checkpoint.saved` event that names it. 503 when the server has no checkpoint store.",
  request: {
    params: CheckpointParamsSchema,
    headers: LeaseTokenHeaderSchema,
    body: { content: { [BINARY]: { schema: CheckpointBodySchema } }, required: true },
  },
  responses: {
    204: { description: "Stored" },
  },
});

export const getCheckpointRoute = defineRoute({
  method: "get",
  operationId: "getCheckpoint",
  path: "/v1/runs/{id}/checkpoints/{epoch}",
  // Members download a run's checkpoints (GET /v1/runs/{id}/checkpoints lists them); a pull
  // worker only the one of the run it leases, to resume from.
  access: [...MEMBERS, ...WORKERS],
  problems: [404, 409, 503],
  tags: ["workers", "runs"],
  summary: "Download an epoch checkpoint of a run (members; pull workers with the run's lease token)",
  description:
    "The packed checkpoint (see docs/service.md, section Checkpoints and disk). A `worker` key must " +
    "send the lease token of the run (422 without it, 409 once the lease is lost); other keys send none.",
  request: { params: CheckpointParamsSchema, headers: OptionalLeaseTokenHeaderSchema },
  responses: {
    200: { description: "The packed checkpoint", content: { [BINARY]: { schema: CheckpointBodySchema } } },
  },
});

export function registerCheckpointRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(putCheckpointRoute, async (c) => {
    const { id } = c.req.valid("param");
    const epoch = Number(c.req.valid("param").epoch);
    const store = checkpointStoreOf(c);
    await holdLease(c, id, c.req.valid("header")[LEASE_TOKEN_HEADER]);
    const body = new Uint8Array(await c.req.arrayBuffer());
    try {
      const covered = checkpointEpochOf(unpackCheckpoint(body));
      if (covered !== epoch)
        throw new CheckpointFormatError(`the checkpoint covers ${covered} epochs, not ${epoch}`);
    } catch (error) {
      if (!(error instanceof CheckpointFormatError)) throw error;
      throw new ProblemError("validation_failed", "the body is not a packed checkpoint", [
        { location: "body", path: "", message: error.message },
      ]);
    }
    await store.put(id, epoch, body);
    return c.body(null, 204);
  });

  app.openapi(getCheckpointRoute, async (c) => {
    const { id } = c.req.valid("param");
    const epoch = Number(c.req.valid("param").epoch);
    const store = checkpointStoreOf(c);
    const token = c.req.valid("header")[LEASE_TOKEN_HEADER];
    if (c.get("principal").role === "worker") {
      if (token === undefined)
        throw new ProblemError("validation_failed", "a worker key must send its lease token", [
          { location: "header", path: LEASE_TOKEN_HEADER, message: "required for worker keys" },
        ]);
      await holdLease(c, id, token);
    } else if (!(await isRunInProject(c.get("services").db, id, c.get("projectId")))) {
      throw notFound("run", id);
    }
    const body = await store.get(id, epoch);
    if (!body) throw notFound("checkpoint", `${id}/${epoch}`);
    return c.body(body, 200, { "Content-Type": BINARY });
  });
}
