import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { getRun } from "../../db/runs.ts";
import { followRun } from "../../src/events/follow.ts";
import type { AppEnv } from "../../src/services.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, problemResponses } from "../common/problem.ts";
import { RunEventMessageSchema } from "./event-messages.ts";

const seqParam = z.coerce.number().int().min(0);

export const runEventsRoute = createRoute({
  method: "get",
  operationId: "streamRunEvents",
  path: "/v1/runs/{id}/events",
  tags: ["runs"],
  summary: "The run's events as Server-Sent Events: replay, then live, then `end`",
  description:
    "Each event's `id` is the run's gap-free seq and its `event` the type (`run.started`, " +
    "`epoch.completed`, …); `data` is the event as JSON. Everything after `Last-Event-ID` (or " +
    "`?since=`) is replayed from the database, then new events follow live. A comment line every " +
    "15 s keeps idle connections open. When the run is terminal an `end` event (no id, data " +
    '`{"state","lastSeq"}`) is sent and the stream closes.',
  request: {
    params: IdParamsSchema("run"),
    query: z.object({
      since: seqParam
        .optional()
        .openapi({ param: { name: "since", in: "query" }, description: "Replay events after this seq." }),
    }),
    headers: z.object({
      "last-event-id": seqParam
        .optional()
        .openapi({ param: { name: "last-event-id", in: "header" }, description: "Wins over `since`." }),
    }),
  },
  responses: {
    200: {
      description: "An event stream",
      content: {
        "text/event-stream": { schema: RunEventMessageSchema },
      },
    },
    ...problemResponses(404, 422),
  },
});

export function registerRunEvents(app: OpenAPIHono<AppEnv>) {
  app.openapi(runEventsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const after = c.req.valid("header")["last-event-id"] ?? c.req.valid("query").since ?? 0;
    const { db, events, sseHeartbeatMs } = c.var.services;
    if (!(await getRun(db, id))) throw notFound("run", id);
    const response = streamSSE(c, async (stream) => {
      const aborted = new AbortController();
      stream.onAbort(() => aborted.abort());
      const items = followRun(db, events.hub, id, {
        after,
        heartbeatMs: sseHeartbeatMs,
        signal: aborted.signal,
      });
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
    });
    // The stream's body is not a JSON schema response; the declared content type documents it.
    return response as unknown as ReturnType<typeof c.text>;
  });
}
