import { z } from "@hono/zod-openapi";
import type { ExperimentRow } from "../../db/experiments.ts";
import type { RunView } from "../../db/runs.ts";
import { RUN_STATES, type RunState } from "../../db/schema.ts";
import { ExperimentSpecSchema } from "../../src/core/spec.ts";
import { RunSchema, toRun } from "../runs/schema.ts";

// The shared schema was built before zod-openapi extended zod, so it is named through zod's own metadata.
export const SpecSchema = ExperimentSpecSchema.meta({
  id: "ExperimentSpec",
  description:
    "An experiment spec; omitted fields take their defaults (`POST /v1/experiments/validate` shows them filled in).",
});

/** What an experiment is, apart from its runs (inlined, or counted in lists). */
const experimentFields = {
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  tags: z.array(z.string()).openapi({ description: "The user's tags (`PATCH /v1/experiments/{id}`)." }),
  note: z.string().nullable().openapi({ description: "The user's note (`PATCH /v1/experiments/{id}`)." }),
  createdAt: z.iso.datetime(),
  spec: z.record(z.string(), z.unknown()).openapi({ description: "The normalised spec." }),
};

const experimentFieldsOf = (row: ExperimentRow) => ({
  id: row.id,
  name: row.name,
  description: row.description,
  tags: row.tags,
  note: row.note,
  createdAt: new Date(row.createdAt).toISOString(),
  spec: row.spec,
});

export const ExperimentSchema = z
  .object({
    ...experimentFields,
    /** One per arm × seed, in spec order. */
    runs: z.array(RunSchema),
  })
  .openapi("Experiment");

export type Experiment = z.infer<typeof ExperimentSchema>;

export function toExperiment(row: ExperimentRow, runs: readonly RunView[]): Experiment {
  return ExperimentSchema.parse({ ...experimentFieldsOf(row), runs: runs.map(toRun) });
}

const ArchitecturePlanSchema = z.object({
  depth: z.number().int(),
  side: z.number().int(),
  tokens: z.number().int(),
  flopsPerImage: z.number(),
  /** VOLO: how many of the depth's blocks are outlookers (the rest are transformer blocks). */
  outlookers: z.number().int().optional(),
  /** ResNet: the depth's blocks in each stage, first stage first. */
  stageBlocks: z.array(z.number().int()).optional(),
});

const StepShapeSchema = z.object({
  depth: z.number().int(),
  side: z.number().int(),
  tokens: z.number().int(),
  batch: z.number().int(),
});

export const ArmCostSchema = z
  .object({
    arm: z.string(),
    memory: z.object({
      bytes: z.number().openapi({ description: "Estimated peak bytes of one run's tensors." }),
      parts: z
        .object({
          state: z.number().openapi({ description: "Weights, AdamW state and EMAs, held throughout." }),
          step: z.number().openapi({ description: "The largest step's activations and gradient." }),
          update: z.number().openapi({ description: "AdamW's update working set." }),
          evaluation: z.number().openapi({ description: "The largest evaluation batch." }),
        })
        .openapi({ description: "Bytes; the peak is state + the largest of the other three." }),
      largestStep: StepShapeSchema,
      evaluation: StepShapeSchema,
    }),
    flops: z.object({
      train: z.number(),
      evaluation: z.number(),
      total: z.number().openapi({ description: "What AUTOPROG_MAX_RUN_PFLOPS is compared with." }),
    }),
  })
  .openapi("ArmCost");

export const RunCeilingsSchema = z
  .object({
    maxRunBytes: z.number().openapi({ description: "AUTOPROG_MAX_RUN_GB, in bytes." }),
    maxRunFlops: z.number().openapi({ description: "AUTOPROG_MAX_RUN_PFLOPS, in FLOPs." }),
  })
  .openapi("RunCeilings");

export const ArmPlanSchema = z
  .looseObject({
    arm: z.string().openapi({ description: "The arm's name within the experiment." }),
    kind: z.string(),
    stages: z.array(
      z.looseObject({
        stage: z.number().int(),
        startEpoch: z.number().int(),
        epochs: z.number().int(),
        architecture: ArchitecturePlanSchema.nullable().openapi({
          description: "Null where a search decides.",
        }),
      }),
    ),
    flopsFull: z.number(),
    flopsPerImageMean: z.number().nullable(),
    flopsSpeedup: z
      .number()
      .nullable()
      .openapi({ description: "flopsFull / mean − 1 (ratio − 1: 0.3 is 1.3×), when every stage is known." }),
    cost: ArmCostSchema.openapi({ description: "What one run of the arm will take, by estimate." }),
  })
  .openapi("ArmPlan");

export const ValidationResultSchema = z
  .object({
    spec: z.record(z.string(), z.unknown()).openapi({ description: "The normalised spec." }),
    arms: z.array(ArmPlanSchema),
    ceilings: RunCeilingsSchema.openapi({ description: "What this server allows one run." }),
  })
  .openapi("ExperimentPlan");

export const RunCountsSchema = z
  .object({
    total: z.number().int(),
    ...Object.fromEntries(RUN_STATES.map((state) => [state, z.number().int()])),
  })
  .openapi("RunCounts", { description: "How many of the experiment's runs are in each state." });

export type RunCounts = { total: number } & Record<RunState, number>;

/** An experiment in a list: its runs as counts by state (page them with `/v1/experiments/{id}/runs`). */
export const ExperimentSummarySchema = z
  .object({ ...experimentFields, runCounts: RunCountsSchema })
  .openapi("ExperimentSummary");

export function toExperimentSummary(
  row: ExperimentRow,
  counts: readonly { state: RunState; count: number }[],
): z.infer<typeof ExperimentSummarySchema> {
  const runCounts = Object.fromEntries(RUN_STATES.map((state) => [state, 0])) as RunCounts;
  runCounts.total = 0;
  for (const { state, count } of counts) {
    runCounts[state] += count;
    runCounts.total += count;
  }
  return ExperimentSummarySchema.parse({ ...experimentFieldsOf(row), runCounts });
}

export const ExperimentPageSchema = z
  .object({ items: z.array(ExperimentSummarySchema), nextCursor: z.string().nullable() })
  .openapi("ExperimentPage");

export const RunPageSchema = z
  .object({ items: z.array(RunSchema), nextCursor: z.string().nullable() })
  .openapi("RunPage");
