import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { getRunInProject } from "../../db/runs.ts";
import { followRun } from "../../src/events/follow.ts";
import type { AppEnv } from "../../src/services.ts";
import { MEMBERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, ProblemError } from "../common/problem.ts";
import { defineRoute } from "../common/route.ts";
import { RunEventMessageSchema } from "./event-messages.ts";

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
    "15 s keeps idle connections open. When the run is terminal an `end` event (no id, data " +
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
    const { db, events, sseHeartbeatMs, auth } = c.var.services;
    if (!(await getRunInProject(db, id, c.var.projectId))) throw notFound("run", id);
    const release = auth.streams.acquire(c.var.principal.keyId);
    if (!release) {
      c.header("Retry-After", "10");
      throw new ProblemError("rate_limited", "this key has as many event streams open as it may");
    }
    const response = streamSSE(c, async (stream) => {
      const aborted = new AbortController();
      stream.onAbort(() => aborted.abort());
      const items = followRun(db, events.hub, id, {
        after,
        heartbeatMs: sseHeartbeatMs,
        signal: aborted.signal,
      });
      try {
        for await (const item of items) {
          if (item.kind === "event") {
            await stream.writeSSE({ id: String(item.seq), event: item.type, data: item.payload });
          } else if (item.kind === "heartbeat") {
            await stream.write(": heartbeat\n\n");
          } else {
            await stream.writeSSE({
              event: "end",
              data: JSON.stringify({ state: item.state, lastSeq: item.lastSeq }),
            });
          }
        }
      } finally {
        // The slot is the key's until the stream ends, however it ends.
        release();
      }
    });
    // The stream's body is not a JSON schema response; the declared content type documents it.
    return response as unknown as ReturnType<typeof c.text>;
  });
}
