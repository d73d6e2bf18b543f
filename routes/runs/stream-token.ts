import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isRunInProject } from "../../db/runs.ts";
import { STREAM_TOKEN_TTL_MS } from "../../src/auth/stream-token.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";

export const StreamTokenSchema = z
  .object({
    token: z.string(),
    expiresAt: z.iso.datetime(),
    url: z.string().openapi({ description: "The events route with the token, for `new EventSource(url)`." }),
  })
  .openapi("StreamToken");

export const streamTokenRoute = defineRoute({
  operationId: "createStreamToken",
  method: "post",
  path: "/v1/runs/{id}/stream-token",
  access: MEMBERS,
  problems: [404],
  tags: ["runs"],
  summary: "A 5-minute token for this run's event stream, for clients that cannot send headers",
  description:
    "`GET /v1/runs/{id}/events?token=…` accepts it instead of `Authorization` (a browser's " +
    "EventSource sends no headers); no other route does. It stops working when it expires, when " +
    "the key that asked for it is revoked, or when the server restarts without " +
    "`AUTOPROG_STREAM_TOKEN_SECRET`. A stream already open is not cut at expiry.",
  request: { params: IdParamsSchema("run") },
  responses: {
    201: { description: "The token", content: { "application/json": { schema: StreamTokenSchema } } },
  },
});

export function registerStreamToken(app: OpenAPIHono<AppEnv>) {
  app.openapi(streamTokenRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { db, clock, auth } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const expiresAt = clock() + STREAM_TOKEN_TTL_MS;
    const token = await auth.streamTokens.mint({ runId: id, keyId: c.get("principal").keyId, expiresAt });
    return c.json(
      StreamTokenSchema.parse({
        token,
        expiresAt: new Date(expiresAt).toISOString(),
        url: `/v1/runs/${id}/events?token=${encodeURIComponent(token)}`,
      }),
      201,
    );
  });
}
