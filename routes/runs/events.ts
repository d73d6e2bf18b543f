import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isRunInProject } from "../../db/runs.ts";
import { followRun } from "../../src/events/follow.ts";
import { socketOutput, webStreamOutput } from "../../src/events/sse-output.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { RunEventMessageSchema } from "./event-messages.ts";

/** Unread bytes a stream may hold for its client when the runtime does not say (256 KiB). */
export const DEFAULT_SSE_BUFFER_BYTES = 256 * 1024;

const seqParam = z.coerce.number().int().min(0);

export const runEventsRoute = defineRoute({
  method: "get",
  operationId: "streamRunEvents",
  path: "/v1/runs/{id}/events",
  access: MEMBERS,
  streamToken: true,
  problems: [404],
  tags: ["runs"],
  summary: "The run's events as Server-Sent Events: replay, then live, then `end`",
  description:
    "Each event's `id` is the run's gap-free seq and its `event` the type (`run.started`, " +
    "`epoch.completed`, …); `data` is the event as JSON. Everything after `Last-Event-ID` (or " +
    "`?since=`) is replayed from the database, then new events follow live. A comment line every " +
    "15 s keeps idle connections open. A client that leaves more than `AUTOPROG_SSE_BUFFER_BYTES` " +
    "unread is disconnected after an `: overflow` comment; it reconnects with `Last-Event-ID` and " +
    "is replayed the rest. When the run is terminal an `end` event (no id, data " +
    '`{"state","lastSeq"}`) is sent and the stream closes. A key holds at most ' +
    "`AUTOPROG_SSE_STREAMS_PER_KEY` streams at once (429 beyond).",
  request: {
    params: IdParamsSchema("run"),
    query: z.object({
      since: seqParam
        .optional()
        .openapi({ param: { name: "since", in: "query" }, description: "Replay events after this seq." }),
      token: z
        .string()
        .max(512)
        .optional()
        .openapi({
          param: { name: "token", in: "query" },
          description: "A stream token (`POST /v1/runs/{id}/stream-token`) instead of `Authorization`.",
        }),
    }),
    headers: z.object({
      "Last-Event-ID": seqParam
        .optional()
        .openapi({ param: { name: "Last-Event-ID", in: "header" }, description: "Wins over `since`." }),
    }),
  },
  responses: {
    200: {
      description: "An event stream",
      content: {
        "text/event-stream": { schema: RunEventMessageSchema },
      },
    },
  },
});

export function registerRunEvents(app: OpenAPIHono<AppEnv>) {
  app.openapi(runEventsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const after = c.req.valid("header")["Last-Event-ID"] ?? c.req.valid("query").since ?? 0;
    const { db, events, sseHeartbeatMs, sseBufferBytes, auth } = c.get("services");
    if (!(await isRunInProject(db, id, c.get("projectId")))) throw notFound("run", id);
    const release = auth.streams.acquire(c.get("principal").keyId);
    if (!release) {
      c.header("Retry-After", "10");
      throw new ProblemError("rate_limited", "this key has as many event streams open as it may");
    }
    // On Node the frames go straight to the socket; elsewhere through a web stream.
    const headers = { "X-Request-Id": c.get("requestId") };
    const { output, response } = socketOutput(c.env, headers) ?? webStreamOutput(headers);
    // The slot is the key's until the stream ends, however it ends.
    void followRun(db, events.hub, id, output, {
      after,
      heartbeatMs: sseHeartbeatMs,
      bufferBytes: sseBufferBytes ?? DEFAULT_SSE_BUFFER_BYTES,
    }).finally(release);
    // The stream's body is not a JSON schema response; the declared content type documents it.
    return response as unknown as ReturnType<typeof c.text>;
  });
}
