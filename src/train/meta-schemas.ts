import { z } from "zod";
import type { EpochRecord, SearchRecord, StageRecord } from "../core/events.ts";
import { fieldErrors } from "../core/spec.ts";
import type { ViTConfig } from "../model/config.ts";
import type { TensorRecord } from "../model/weights-io.ts";

/**
 * Schemas of the JSON the trainer reads back from disk (checkpoint meta, model files): what it
 * wrote itself, but a file can be truncated, edited or from another version, so it is parsed,
 * never cast. `satisfies` ties each schema to the type the rest of the code uses.
 */

/** Counts, indices and sizes. */
export const count = z.number().int().min(0);

export const ViTConfigSchema = z.object({
  imageSize: count,
  patchSize: count,
  channels: count,
  width: count,
  depth: count,
  heads: count,
  mlpRatio: z.number(),
  numClasses: count,
}) satisfies z.ZodType<ViTConfig>;

export const TensorRecordSchema = z.object({
  name: z.string(),
  shape: z.array(count).readonly(),
  offset: count,
}) satisfies z.ZodType<TensorRecord>;

export const ArchitectureSchema = z.object({ depth: count, side: count });

// The records below mirror the zod event contract of issue 9 (core/events.ts on its branch).
// Once that lands here, import StageRecordSchema, SearchRecordSchema and EpochRecordSchema from
// core/events.ts and delete these three.
const architectureReport = z.object({ depth: count, side: count, tokens: count });

const growthReport = z.object({
  from: architectureReport,
  to: architectureReport,
  operator: z.string(),
  parametersBefore: z.number(),
  parametersAfter: z.number(),
  flopsBefore: z.number(),
  flopsAfter: z.number(),
  secondsSoFar: z.number(),
});

export const StageRecordSchema = z.object({
  stage: count,
  startEpoch: count,
  epochs: count,
  depth: count,
  side: count,
  tokens: count,
  flopsPerImage: z.number(),
  parameters: z.number(),
  growth: growthReport.nullable(),
}) satisfies z.ZodType<StageRecord>;

const scoredCandidate = z.object({
  depth: count,
  side: count,
  tokens: count,
  loss: z.number(),
  cost: z.number(),
  score: z.number(),
  chosen: z.boolean(),
});

export const SearchRecordSchema = z.object({
  stage: count,
  candidates: z.array(scoredCandidate).readonly(),
  a1: z.number(),
  w: z.number(),
  cost: z.enum(["time", "flops"]),
  winner: ArchitectureSchema,
  searchSeconds: z.number(),
  supernetEpochs: count,
}) satisfies z.ZodType<SearchRecord>;

export const EpochRecordSchema = z.object({
  epoch: count,
  phase: z.enum(["train", "supernet"]),
  step: count,
  trainLoss: z.number(),
  trainAccuracy: z.number(),
  lr: z.number(),
  imagesPerSecond: z.number(),
  epochSeconds: z.number(),
  flopsPerImage: z.number(),
  architecture: architectureReport,
  evaluation: z
    .object({
      online: z.number(),
      ema: z.record(z.string(), z.number()),
      best: z.number(),
      bestSource: z.string(),
    })
    .nullable(),
}) satisfies z.ZodType<EpochRecord>;

/** Parses `value` or throws one error naming every wrong field, e.g. `step: Invalid input: …`. */
export function parseMeta<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = fieldErrors(result.error).map((e) => `${e.path || "(root)"}: ${e.message}`);
  throw new Error(`${what} is invalid: ${fields.join("; ")}`);
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The `format` a meta file declares, read before anything else so that another format is named. */
export function declaredFormat(value: unknown): unknown {
  const declared = z.object({ format: z.unknown() }).safeParse(value);
  return declared.success ? declared.data.format : undefined;
}
