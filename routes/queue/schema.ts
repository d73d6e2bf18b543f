import { z } from "@hono/zod-openapi";
import type { RunRow } from "../../db/runs.ts";

export const QueuedRunSchema = z
  .object({
    position: z.number().int().openapi({
      description: "1-based: the project's next run to start is 1 (its runs start oldest first).",
    }),
    runId: z.string(),
    experimentId: z.string(),
    arm: z.string().openapi({ description: "The arm's label." }),
    seed: z.number().int(),
    attempt: z.number().int().openapi({ description: "Starts so far (more than 0: re-queued)." }),
    queuedAt: z.iso.datetime().openapi({ description: "When the run was submitted." }),
  })
  .openapi("QueuedRun");

export const QueuePageSchema = z
  .object({
    running: z.number().int().openapi({ description: "The project's runs training now." }),
    queued: z.number().int().openapi({ description: "The project's runs waiting." }),
    projectMaxRunning: z.number().int().nullable().openapi({
      description: "Runs a project may have running at once (AUTOPROG_PROJECT_MAX_RUNNING); null: no quota.",
    }),
    projectsQueued: z.number().int().openapi({
      description:
        "Projects with runs waiting, this one included: trainers serve them in turn, the one with the fewest runs training first.",
    }),
    items: z.array(QueuedRunSchema),
    nextCursor: z.string().nullable(),
  })
  .openapi("QueuePage");

export function toQueuedRun(row: RunRow, position: number): z.infer<typeof QueuedRunSchema> {
  return {
    position,
    runId: row.id,
    experimentId: row.experimentId,
    arm: row.label,
    seed: row.seed,
    attempt: row.attempt,
    queuedAt: new Date(row.createdAt).toISOString(),
  };
}
