import { z } from "zod";
import { fieldErrors } from "../core/spec.ts";
import { MODEL_FAMILIES, type ViTConfig } from "../model/config.ts";
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
  family: z.enum(MODEL_FAMILIES).optional(),
  volo: z
    .object({
      stemPatch: count,
      outlookerWidth: count,
      outlookerHeads: count,
      outlookers: count,
      outlookerMlpRatio: z.number(),
      classBlocks: count,
    })
    .optional(),
  resnet: z
    .object({
      stageWidths: z.array(count).readonly(),
      stageDepths: z.array(count).readonly(),
      groups: count,
    })
    .optional(),
}) satisfies z.ZodType<ViTConfig>;

export const TensorRecordSchema = z.object({
  name: z.string(),
  shape: z.array(count).readonly(),
  offset: count,
}) satisfies z.ZodType<TensorRecord>;

export const ArchitectureSchema = z.object({ depth: count, side: count });

// Stage, search and epoch records are the event contract's own schemas.
export { EpochRecordSchema, SearchRecordSchema, StageRecordSchema } from "../core/events.ts";

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
