import { z } from "zod";
import { ArmSchema } from "./arms.ts";
import { LR_SCALING_RULES } from "./batch-scaling.ts";
import { MODEL_FAMILIES } from "./model-config.ts";
import { SPEC_LIMITS } from "./spec-limits.ts";

/**
 * The experiment spec's fields, each checked on its own; the rules between fields are in
 * core/spec-checks.ts and core/spec.ts joins the two.
 */

export const DATASET_NAMES = ["mnist", "fashion-mnist", "cifar10"] as const;
/** ViT variants: micro, tiny, small; VOLO variants (model.family "volo"): micro, d1; ResNet ("resnet"): micro. */
export const VARIANT_NAMES = ["micro", "tiny", "small", "d1"] as const;
export const BACKEND_PREFERENCES = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;
/** `training.precision`: fp32 throughout, or f16 matmul inputs with fp32 master state (mixed). */
export const PRECISIONS = ["fp32", "mixed"] as const;

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
    /**
     * "vit" (DeiT-style, the default), "volo" (outlookers, transformer and class-attention
     * blocks) or "resnet" (basic residual blocks in three stages).
     */
    family: z.enum(MODEL_FAMILIES).optional(),
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

/** The DeiT/VOLO recipe's RandAugment (timm's rand-m9-mstd0.5-inc1). */
export const DEFAULT_RAND_AUGMENT = { ops: 2, magnitude: 9, magnitudeStd: 0.5 } as const;

const RandAugmentSchema = z
  .object({
    /** Operations per image (timm's N), drawn with replacement from 15; each applies with probability 0.5. */
    ops: z.number().int().min(0).max(8).default(DEFAULT_RAND_AUGMENT.ops),
    /** Mean magnitude on timm's 0..10 scale (M); AdaReg scales it 0.5× → 1× over the stages. */
    magnitude: z.number().min(0).max(10).default(DEFAULT_RAND_AUGMENT.magnitude),
    /** Standard deviation of each operation's magnitude (clipped to 0..10); 0 = always `magnitude`. */
    magnitudeStd: z.number().min(0).max(10).default(DEFAULT_RAND_AUGMENT.magnitudeStd),
  })
  .strict();

const AugmentSchema = z
  .object({
    cropPadding: z.number().int().min(0).max(16).optional(),
    horizontalFlip: z.boolean().optional(),
    /**
     * RandAugment; null = off. Absent: on (ops 2, magnitude 9, magnitudeStd 0.5) for
     * model.family "volo" and off for the ViT, as in the paper.
     */
    randAugment: RandAugmentSchema.nullable().optional(),
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
    /**
     * "mixed": f16 copies of weights and activations into the matmuls (f32 accumulation), fp32
     * master weights, moments, EMAs and LayerNorm statistics, dynamic loss scaling. Only the
     * compiled WebGPU step trains in mixed; elsewhere the run trains in fp32 and its backend
     * report says so (docs/backends.md). Default fp32 on every backend.
     */
    precision: z.enum(PRECISIONS).default("fp32"),
  })
  .strict();

/** Every field of a spec, before the cross-field rules. */
export const SpecFieldsSchema = z
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
    /**
     * Start every run from another run's trained weights (fine-tuning, the paper's transfer
     * setting): the weights of its newest checkpoint, online or an EMA copy. The architecture must
     * be the same but for the class count: a head for another count starts fresh.
     */
    init: z
      .object({
        fromRun: z.string().min(1).max(64),
        weights: z
          .string()
          .regex(/^(online|ema-[a-z][a-z0-9_-]*)$/, "online or ema-<name>")
          .default("online"),
      })
      .strict()
      .optional(),
  })
  .strict();

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

/** A spec whose fields each passed their own schema: what the cross-field checks read. */
export type SpecFields = z.output<typeof SpecFieldsSchema>;
export type DatasetName = (typeof DATASET_NAMES)[number];
