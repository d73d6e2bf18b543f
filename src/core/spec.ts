import type { z } from "zod";
import { crossFieldIssues } from "./spec-checks.ts";
import { SpecFieldsSchema } from "./spec-schema.ts";

export { ArmSchema, armLabel, GROWTH_OPERATORS, type GrowthOperatorName } from "./arms.ts";
export {
  BACKEND_PREFERENCES,
  DATASET_NAMES,
  DATASET_SHAPES,
  type DatasetName,
  defaultImageSize,
  VARIANT_NAMES,
} from "./spec-schema.ts";

/**
 * The experiment spec: one zod schema shared by the CLI, the API and the trainer. A minimal
 * spec (`{ name, dataset: { name } }`) is valid; everything else has a default. Parsing
 * returns the normalised spec with all defaults filled in. Each field is checked by its own
 * schema (core/spec-schema.ts), then the rules between fields by named checks (core/spec-checks.ts).
 */
export const ExperimentSpecSchema = SpecFieldsSchema.superRefine((spec, ctx) => {
  for (const issue of crossFieldIssues(spec)) ctx.addIssue({ code: "custom", ...issue });
});

export type ExperimentSpecInput = z.input<typeof ExperimentSpecSchema>;
export type ExperimentSpec = z.output<typeof ExperimentSpecSchema>;
export type ArmSpec = ExperimentSpec["arms"][number];

export interface SpecFieldError {
  /** Dotted path of the offending field, e.g. "training.lr" or "arms.0.arm". */
  readonly path: string;
  readonly message: string;
}

export class SpecError extends Error {
  override readonly name = "SpecError";
  constructor(readonly errors: readonly SpecFieldError[]) {
    super(`invalid experiment spec: ${errors.map((e) => `${e.path || "(root)"}: ${e.message}`).join("; ")}`);
  }
}

/** One entry per wrong field; an unknown key is reported at its own path. */
export function fieldErrors(error: z.ZodError): SpecFieldError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...path, key].join("."), message: "unknown field" }));
    }
    return [{ path: path.join("."), message: issue.message }];
  });
}

/** Parses and normalises a spec; throws SpecError naming every wrong field. */
export function parseSpec(input: unknown): ExperimentSpec {
  const result = ExperimentSpecSchema.safeParse(input);
  if (!result.success) throw new SpecError(fieldErrors(result.error));
  return result.data;
}
