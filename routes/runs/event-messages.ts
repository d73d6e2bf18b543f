import { z } from "@hono/zod-openapi";
import { RUN_STATES } from "../../db/schema.ts";
import { TrainingEventSchema } from "../../src/core/events.ts";

/**
 * The messages of a run's event stream, as the OpenAPI document describes them: one per event
 * type, its `data` typed by the event's schema (JSON text on the wire), then `end`.
 */
const eventMessages = TrainingEventSchema.options.map((data) =>
  z.object({
    id: z.string().openapi({ description: "The event's seq in its run (gap-free from 1)." }),
    event: data.shape.type,
    data,
  }),
);

const EndMessageSchema = z
  .object({
    event: z.literal("end"),
    data: z.object({
      state: z.enum(RUN_STATES).optional(),
      lastSeq: z.number().int().openapi({ description: "The seq of the last event sent." }),
    }),
  })
  .openapi("RunEventsEndMessage");

export const RunEventMessageSchema = z
  .union([...eventMessages, EndMessageSchema] as unknown as readonly [z.ZodType, z.ZodType, ...z.ZodType[]])
  .openapi("RunEventMessage", {
    description: "One Server-Sent Event: `id` is the seq, `event` the type, `data` the event as JSON.",
  });
