import type { OpenAPIHono } from "@hono/zod-openapi";
import { checkpointMetaFile, runCheckpointsPath } from "../../src/core/checkpoint-layout.ts";
import { TERMINAL_EVENT_TYPES, type TrainingEvent } from "../../src/core/events.ts";
import type { AppEnv } from "../../src/services.ts";
import { WORKERS } from "../common/access.ts";
import { IdParamsSchema } from "../common/cursor.ts";
import { defineRoute } from "../common/route.ts";
import { holdLease, leaseAction, workerSettings } from "./lease-state.ts";
import { EventBatchResultSchema, EventBatchSchema } from "./schema.ts";

export const postRunEventsRoute = defineRoute({
  method: "post",
  operationId: "postRunEvents",
  path: "/v1/runs/{id}/events",
  access: WORKERS,
  problems: [404, 409],
  tags: ["workers"],
  summary: "Report a batch of a leased run's training events (pull workers; `worker` keys only)",
  description:
    "Stored in `seq` order through the same sink as the embedded trainer's events, and the lease " +
    "is extended. Retrying a batch is safe: an event already stored (same replay key; " +
    "`run.started`, `run.failed`, `attempt.failed` and `run.paused` count once per lease) is counted in " +
    "`duplicates`. Upload a " +
    "checkpoint before the `checkpoint.saved` event that names it. A terminal event ends the run; " +
    "`run.paused` ends the lease (the run is `paused`).",
  request: {
    params: IdParamsSchema("run"),
    body: { content: { "application/json": { schema: EventBatchSchema } }, required: true },
  },
  responses: {
    200: { description: "Stored", content: { "application/json": { schema: EventBatchResultSchema } } },
  },
});

/**
 * Events that are new once per lease get a key of their lease, so a retried batch stores them
 * once. Not the attempt's number: a pause gives the attempt back, so the run's next lease trains
 * under the same number. A digest of the token, which is a secret.
 */
const replayKeyOf = (event: TrainingEvent, given: string | null, leaseDigest: string) =>
  given ?? `${event.type}#lease:${leaseDigest}`;

/** The worker's checkpoint path means nothing here: name the copy in this server's store. */
function normalised(event: TrainingEvent, runId: string): TrainingEvent {
  if (event.type !== "checkpoint.saved") return event;
  return { ...event, location: `${runCheckpointsPath(runId)}/${checkpointMetaFile(event.epoch)}` };
}

export function registerPostRunEvents(app: OpenAPIHono<AppEnv>) {
  app.openapi(postRunEventsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { token, events } = c.req.valid("json");
    const lease = await holdLease(c, id, token);
    const sink = c.get("services").events;
    // Handed to the sink together, so the whole batch is stored in one transaction.
    const entries = [...events].sort((a, b) => a.seq - b.seq);
    // The same SHA-256 hex as kit/crypto's sha256Hex (replay keys unchanged); on Node the
    // service's synchronous one, as Web Crypto's asynchronous digest costs more than the hash.
    const leaseDigest = (await c.get("services").auth.hashKey(token)).slice(0, 24);
    const seqs = await Promise.all(
      entries.map((entry) =>
        sink.record(
          id,
          lease.attempt,
          normalised(entry.event, id),
          replayKeyOf(entry.event, entry.replayKey, leaseDigest),
        ),
      ),
    );
    const accepted = seqs.filter((seq) => seq !== null).length;
    const duplicates = seqs.length - accepted;
    const ended = entries.some((entry, i) => seqs[i] !== null && TERMINAL_EVENT_TYPES.has(entry.event.type));
    if (ended) await workerSettings(c).onRunFinished?.(id);
    return c.json({ accepted, duplicates, action: leaseAction(lease) }, 200);
  });
}
