import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { readEvents } from "../../db/events.ts";
import { getRun } from "../../db/runs.ts";
import { TERMINAL_STATES } from "../../db/schema.ts";
import type { PublishedEvent } from "../../src/events/hub.ts";
import type { AppEnv } from "../../src/services.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { notFound, problemResponses } from "../common/problem.ts";

/** Events read from the database per query while catching up. */
const PAGE = 200;
/** Live events a stream may hold before it falls back to reading the database. */
const MAX_PENDING = 256;

const seqParam = z.coerce.number().int().min(0);

export const runEventsRoute = createRoute({
  method: "get",
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
        "text/event-stream": {
          schema: z.string().openapi({ example: "id: 1\nevent: run.started\ndata: {…}\n\n" }),
        },
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
      let cursor = after;
      // Live events wait here until written; a stream that falls this far behind reads the database instead.
      const pending: PublishedEvent[] = [];
      let overflowed = false;
      let wake: () => void = () => {};
      const unsubscribe = events.hub.subscribe(id, (event) => {
        if (pending.length < MAX_PENDING) pending.push(event);
        else overflowed = true;
        wake();
      });
      stream.onAbort(() => wake());
      const end = (state: string | undefined) =>
        stream.writeSSE({ event: "end", data: JSON.stringify({ state, lastSeq: cursor }) });
      try {
        let fromDatabase = true;
        while (!stream.aborted) {
          if (fromDatabase || overflowed) {
            fromDatabase = false;
            overflowed = false;
            pending.length = 0;
            // State first: a terminal state means its terminal event is already in the log.
            const state = (await getRun(db, id))?.state;
            const rows = await readEvents(db, id, cursor, PAGE);
            for (const row of rows) {
              await stream.writeSSE({ id: String(row.seq), event: row.type, data: row.payload });
              cursor = row.seq;
            }
            if (rows.length === PAGE) {
              fromDatabase = true;
              continue;
            }
            if (state === undefined || TERMINAL_STATES.includes(state)) return await end(state);
          }
          while (pending.length > 0 && !overflowed) {
            const event = pending.shift() as PublishedEvent;
            if (event.seq <= cursor) continue;
            if (event.seq !== cursor + 1) {
              fromDatabase = true;
              break;
            }
            await stream.writeSSE({ id: String(event.seq), event: event.type, data: event.payload });
            cursor = event.seq;
            if (event.terminal) return await end((await getRun(db, id))?.state);
          }
          if (fromDatabase || overflowed || pending.length > 0) continue;
          const woken = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), sseHeartbeatMs);
            wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
          });
          wake = () => {};
          if (!woken && !stream.aborted) await stream.write(": heartbeat\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
    // The stream's body is not a JSON schema response; the declared content type documents it.
    return response as unknown as ReturnType<typeof c.text>;
  });
}
