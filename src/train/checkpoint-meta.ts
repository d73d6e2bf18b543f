import { z } from "zod";
import {
  count,
  declaredFormat,
  EpochRecordSchema,
  parseJson,
  parseMeta,
  SearchRecordSchema,
  StageRecordSchema,
  TensorRecordSchema,
  ViTConfigSchema,
} from "./meta-schemas.ts";
import { SupernetStateSchema } from "./supernet.ts";

/**
 * /2: epoch records carry batchSize and steps, the supernet state its step window, the state a
 * cost table (issue 10); /1 files are refused with a clear message rather than a field error.
 */
export const CHECKPOINT_FORMAT = "autoprog-checkpoint/2";

/**
 * Where a run paused inside an epoch (RunOptions.pause): the steps of the epoch already trained
 * and the epoch's running sums, so the resumed epoch continues with the same data order (a pure
 * function of seed and epoch) from its next step and reports the same totals.
 */
export const EpochProgressSchema = z.object({
  steps: count,
  lossSum: z.number(),
  correct: z.number(),
  seen: count,
  flopsSum: z.number(),
  lastLr: z.number(),
  seconds: z.number(),
  wallSeconds: z.number(),
  cpuSeconds: z.number(),
});
export type EpochProgress = z.infer<typeof EpochProgressSchema>;

/**
 * The part of a run's ModelState that a checkpoint's JSON meta holds (the tensors go to its
 * data file). Defined once: ModelState extends it, saving and restoring take exactly these keys.
 */
export const PersistedStateSchema = z.object({
  config: ViTConfigSchema,
  /** Blocks the model holds (a supernet may hold more than are active). */
  depth: count,
  activeBlocks: z.array(z.boolean()),
  /** Input side trained now. */
  side: count,
  /** Index of the current stage, −1 before the first. */
  stage: z.number().int().min(-1),
  /** Growths so far (salts fresh initialisations). */
  growths: count,
  /** Epochs completed. */
  epoch: count,
  /** Optimizer steps taken (drives the LR curve). */
  step: count,
  history: z.array(EpochRecordSchema),
  stages: z.array(StageRecordSchema),
  /** The elastic supernet while a searched stage trains it. */
  supernet: SupernetStateSchema.nullable(),
  search: z.array(SearchRecordSchema),
  searchSeconds: z.number(),
  supernetSeconds: z.number(),
  /**
   * Measured seconds per step by `depth@side@batch` (core/cost-table.ts), filled at the first
   * searched stage and reused after, also across a resume; older metas lack it.
   */
  costTable: z.record(z.string(), z.number()).default(() => ({})),
  wallSeconds: z.number(),
  /** CPU seconds of this process over the same span (robust to other load); older metas lack it. */
  cpuSeconds: z.number().default(0),
  trainSeconds: z.number(),
  /** Σ forward FLOPs per image over all steps, for the run's mean. */
  flopsSum: z.number(),
  /** A checkpoint written by a pause inside an epoch: how far that epoch got; null at an epoch's end. */
  epochProgress: EpochProgressSchema.nullable().default(null),
  /**
   * Mixed precision's dynamic loss scale, its clean steps since it last changed and the steps
   * skipped so far (a resume continues exactly); null in fp32 and in older metas.
   */
  lossScale: z
    .object({ scale: z.number().positive(), cleanSteps: count, skippedSteps: count })
    .nullable()
    .default(null),
});
export type PersistedState = z.infer<typeof PersistedStateSchema>;

/**
 * A checkpoint's JSON meta: the persisted state, the run it belongs to, the optimizer's step and
 * the EMA decays (their tensors are in the data file), and the index of that data file.
 */
export const CheckpointMetaSchema = PersistedStateSchema.extend({
  format: z.literal(CHECKPOINT_FORMAT),
  arm: z.string(),
  seed: z.number().int(),
  /** Hash of the normalised spec: resuming under another spec is refused. */
  specHash: z.string(),
  optimizerStep: count,
  emaDecays: z.record(z.string(), z.number()),
  index: z.array(TensorRecordSchema),
});
export type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;

/** The persisted keys of a model state or a checkpoint meta, as a fresh copy (others dropped). */
export function persistedPart(source: PersistedState): PersistedState {
  return parseMeta(PersistedStateSchema, source, "the model state");
}

/** Reads a checkpoint's meta file; a wrong format or field is refused with its name. */
export function parseCheckpointMeta(text: string, source: string): CheckpointMeta {
  const what = `checkpoint meta ${source}`;
  const value = parseJson(text, what);
  const format = declaredFormat(value);
  if (format === "autoprog-checkpoint/1")
    throw new Error(
      `${source} was written by an older autoprog (format /1) and cannot be resumed; start the run again`,
    );
  if (format !== CHECKPOINT_FORMAT)
    throw new Error(`unknown checkpoint format ${String(format)} in ${source}`);
  return parseMeta(CheckpointMetaSchema, value, what);
}
