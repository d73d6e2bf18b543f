import { z } from "zod";
import { SELECTION_RULES, SIDE_FLOORS, WINNER_WEIGHTS } from "./arms.ts";
import { PRECISIONS } from "./spec-schema.ts";

/**
 * The typed event stream: the single contract between the trainer and everything else
 * (database, SSE, webhooks, CLI). Each schema is defined once here and every type is inferred
 * from it; the sink parses each event with `TrainingEventSchema`, and an event that does not
 * parse is an error. Schemas carry an `id` so the OpenAPI document names them.
 */

const count = z.number().int().min(0);

export const BACKEND_NAMES = ["tensorflow", "webgpu", "wasm", "cpu"] as const;

/** The GPU adapter a webgpu backend runs on (from `GPUAdapterInfo`). */
export const AdapterReportSchema = z
  .object({
    vendor: z.string(),
    architecture: z.string(),
    device: z.string(),
    description: z.string(),
    driver: z.string().optional(),
    isFallback: z.boolean(),
  })
  .meta({ id: "AdapterReport" });

/** What a run trains in: what the spec asked, what ran, and (compiled WebGPU step) with which kernels. */
export const PrecisionReportSchema = z
  .object({
    /** `training.precision` of the spec. */
    requested: z.enum(PRECISIONS),
    /** What the steps train in: "mixed" only on the compiled WebGPU step with f16 matmul kernels. */
    used: z.enum(PRECISIONS),
    /** The matmul kernel family that ran: "subgroup-matrix 16×16×16 f16→f32", "f16 register-tiled …", "fp32", or "tfjs". */
    matmuls: z.string(),
    /** Features the compiled step's device was requested with (empty on the tfjs paths). */
    deviceFeatures: z.array(z.string()).readonly(),
    /** Why `used` differs from `requested`, when it does. */
    note: z.string().optional(),
  })
  .meta({ id: "PrecisionReport" });
export type PrecisionReport = z.infer<typeof PrecisionReportSchema>;

export const BackendReportSchema = z
  .object({
    name: z.enum(BACKEND_NAMES),
    package: z.string(),
    threads: z.number().int(),
    device: z.string(),
    gpu: z.boolean(),
    simd: z.boolean().optional(),
    adapter: AdapterReportSchema.optional(),
    /** Set once the run's step is chosen (run.started and the run result carry it). */
    precision: PrecisionReportSchema.optional(),
  })
  .meta({ id: "BackendReport" });
export type BackendReport = z.infer<typeof BackendReportSchema>;

export const ArchitectureReportSchema = z
  .object({ depth: count, side: count, tokens: count })
  .meta({ id: "ArchitectureReport" });
export type ArchitectureReport = z.infer<typeof ArchitectureReportSchema>;

export const EvaluationReportSchema = z
  .object({
    /** Top-1 of the online model on the test split, in [0, 1]. */
    online: z.number(),
    /** Top-1 of each EMA copy, by name. */
    ema: z.record(z.string(), z.number()),
    /** Best of the online model and its EMAs (what the paper reports). */
    best: z.number(),
    bestSource: z.string(),
  })
  .meta({ id: "EvaluationReport" });
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

/** Where a stage sits in the run and what it trains. */
const stageHeader = {
  stage: count,
  startEpoch: count,
  epochs: count,
  depth: count,
  side: count,
  tokens: count,
};
export type StageHeader = z.infer<z.ZodObject<typeof stageHeader>>;

const growthReport = {
  from: ArchitectureReportSchema,
  to: ArchitectureReportSchema,
  operator: z.string(),
  parametersBefore: z.number(),
  parametersAfter: z.number(),
  flopsBefore: z.number(),
  flopsAfter: z.number(),
  /** Training-loop seconds when the growth happened. */
  secondsSoFar: z.number(),
};
export const GrowthReportSchema = z.object(growthReport).meta({ id: "GrowthReport" });
export type GrowthReport = z.infer<typeof GrowthReportSchema>;

/** One stage of a run as it happened. */
export const StageRecordSchema = z
  .object({
    ...stageHeader,
    /** Forward FLOPs per image of the stage's sub-network. */
    flopsPerImage: z.number(),
    parameters: z.number(),
    /** The growth that opened the stage (null for the first stage or when nothing changed). */
    growth: GrowthReportSchema.nullable(),
  })
  .meta({ id: "StageRecord" });
export type StageRecord = z.infer<typeof StageRecordSchema>;

/** Top-1 of the final model at one input side (the paper also tests at a larger side). */
export const SideEvaluationSchema = z
  .object({ side: count, online: z.number(), ema: z.record(z.string(), z.number()), best: z.number() })
  .meta({ id: "SideEvaluation" });
export type SideEvaluation = z.infer<typeof SideEvaluationSchema>;

/** A measured candidate of a search (see core/search-score.ts for the scoring). */
export const ScoredCandidateSchema = z
  .object({
    depth: count,
    side: count,
    tokens: count,
    loss: z.number(),
    cost: z.number(),
    /** The paper's S = L·t^w (informational under the paired rule). */
    score: z.number(),
    chosen: z.boolean(),
    /** Mean per-image loss difference to the lowest-loss candidate on the same images (0 for it). */
    meanDifference: z.number().default(0),
    /** Standard error of that difference (sd of per-image differences / √n). */
    standardError: z.number().default(0),
    /** Within `z` standard errors of the lowest-loss candidate (paired rule; false under "paper"). */
    tied: z.boolean().default(false),
  })
  .meta({ id: "ScoredCandidate" });

/** A measured step time (core/cost-table.ts). */
export const CostEntrySchema = z
  .object({ depth: count, side: count, batch: count, seconds: z.number() })
  .meta({ id: "CostEntry" });

/** One searched stage: every candidate's numbers and the fit (autoprog-spec §5.4). */
const searchRecord = {
  stage: count,
  candidates: z.array(ScoredCandidateSchema).readonly(),
  a1: z.number(),
  w: z.number(),
  cost: z.enum(["time", "flops"]),
  /** The rule that picked the winner (records written before it existed used "paper"). */
  selection: z.enum(SELECTION_RULES).default("paper"),
  /** Standard errors within which a paired difference is a tie (null under "paper"). */
  z: z.number().nullable().default(null),
  /** Equivalence margin, a fraction of the reference's loss ("paired"; null in older records). */
  tolerance: z.number().nullable().default(null),
  /** "schedule": sides below the manual schedule's r_k were not offered (older records: "none"). */
  sideFloor: z.enum(SIDE_FLOORS).default("none"),
  /** "regrow": the supernet trained on a copy; the winner grew from the stage's starting weights. */
  winnerWeights: z.enum(WINNER_WEIGHTS).default("supernet"),
  winner: z.object({ depth: count, side: count }),
  /** Seconds spent measuring candidates (loss passes and step timing). */
  searchSeconds: z.number(),
  /** Architectures whose step was timed at this stage: the growth space at the first, then 0. */
  timedArchitectures: count.default(0),
  /** Epochs the supernet phase touched (the last one may also train the winner). */
  supernetEpochs: count,
  /** Optimizer steps of the supernet phase (core/supernet-phase.ts). */
  supernetSteps: count.default(0),
};
export const SearchRecordSchema = z.object(searchRecord).meta({ id: "SearchRecord" });
export type SearchRecord = z.infer<typeof SearchRecordSchema>;

const epochRecord = {
  epoch: count,
  /** "supernet" while an elastic supernet trains (architecture = its largest candidate). */
  phase: z.enum(["train", "supernet"]),
  step: count,
  trainLoss: z.number(),
  trainAccuracy: z.number(),
  lr: z.number(),
  /** The batch this epoch trained at (larger in small stages under `training.batchScaling`). */
  batchSize: count,
  /** Optimizer steps this epoch. */
  steps: count,
  imagesPerSecond: z.number(),
  epochSeconds: z.number(),
  /** Mean forward FLOPs per image over this epoch's steps. */
  flopsPerImage: z.number(),
  architecture: ArchitectureReportSchema,
  /** Null on epochs skipped by `training.evalEvery`. */
  evaluation: EvaluationReportSchema.nullable(),
  /** Mixed precision: the dynamic loss scale at the epoch's end; null in fp32. */
  lossScale: z.number().nullable().default(null),
  /** Mixed precision: steps of this epoch skipped for an inf/NaN gradient (the scale halved each time). */
  skippedSteps: count.default(0),
};
export const EpochRecordSchema = z.object(epochRecord).meta({ id: "EpochRecord" });
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

export const RunResultSchema = z
  .object({
    arm: z.string(),
    seed: z.number().int(),
    backend: BackendReportSchema,
    epochs: count,
    steps: count,
    /** Final top-1 (best of online and EMAs at the last epoch). */
    top1: z.number(),
    /** Best top-1 over all epochs. */
    bestTop1: z.number(),
    /** Training loop time: steps, per-epoch evaluation and checkpoints (data loading excluded). */
    wallSeconds: z.number(),
    /** CPU seconds the process used over the same span. */
    cpuSeconds: z.number(),
    /** Optimizer steps only (supernet epochs included). */
    trainSeconds: z.number(),
    /** Mean forward FLOPs per image over all training steps. */
    flopsPerStepMean: z.number(),
    /** Forward FLOPs per image of the full model at full side. */
    flopsFull: z.number(),
    parameters: z.number(),
    history: z.array(EpochRecordSchema).readonly(),
    stages: z.array(StageRecordSchema).readonly(),
    /** The architecture of each stage, in the format a `fixed` arm replays. */
    schedule: z.array(z.object({ depth: count, side: count })).readonly(),
    search: z.array(SearchRecordSchema).readonly(),
    /** Candidate measurement passes (included in wallSeconds, excluded from trainSeconds). */
    searchSeconds: z.number(),
    /** Training time of supernet steps (included in trainSeconds and wallSeconds). */
    supernetSeconds: z.number(),
    /** searchSeconds / wallSeconds: what the candidate measurements cost. */
    searchShare: z.number().default(0),
    /** supernetSeconds / wallSeconds: what training the supernet took. */
    supernetShare: z.number().default(0),
    /** Seconds per step of every timed (depth, side, batch), measured once at the first search. */
    costTable: z.array(CostEntrySchema).readonly().default([]),
    /** Final top-1 at each evaluation side (the trained side first). */
    sideEvaluations: z.array(SideEvaluationSchema).readonly(),
    /** Mixed precision: the loss scale at the end; null in fp32. */
    lossScale: z.number().nullable().default(null),
    /** Mixed precision: optimizer steps skipped for an inf/NaN gradient over the whole run. */
    skippedSteps: count.default(0),
  })
  .meta({ id: "RunResult" });
export type RunResult = z.infer<typeof RunResultSchema>;

export const FAILURE_REASONS = [
  "failed_setup",
  "non_finite_loss",
  "out_of_memory",
  "cancelled",
  "error",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** What `run.failed` and `attempt.failed` say: why, and where training was. */
const failure = {
  reason: z.enum(FAILURE_REASONS),
  message: z.string(),
  epoch: count.nullable(),
  step: count.nullable(),
};

const event = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), ...shape }).meta({ id: eventSchemaName(type) });

/** `epoch.completed` → `EpochCompletedEvent`: the component name of each event's schema. */
function eventSchemaName(type: string): string {
  const words = type.split(".").map((w) => (w[0] ?? "").toUpperCase() + w.slice(1));
  return `${words.join("")}Event`;
}

export const TrainingEventSchema = z.discriminatedUnion("type", [
  event("run.started", {
    arm: z.string(),
    seed: z.number().int(),
    backend: BackendReportSchema,
    epochs: count,
    stepsPerEpoch: count,
    trainImages: count,
    testImages: count,
    parameters: z.number(),
    flopsFull: z.number(),
    /** Epoch a resumed run continues from (0 for a fresh run). */
    startEpoch: count,
  }),
  event("stage.started", stageHeader),
  event("stage.grown", { stage: count, ...growthReport }),
  event("stage.search.started", {
    stage: count,
    startEpoch: count,
    supernetEpochs: count,
    supernetSteps: count.default(0),
    candidates: z.array(ArchitectureReportSchema).readonly(),
  }),
  event("stage.search.completed", searchRecord),
  event("epoch.completed", epochRecord),
  event("checkpoint.saved", { epoch: count, step: count, location: z.string() }),
  event("run.completed", { result: RunResultSchema }),
  event("run.failed", failure),
  /**
   * An attempt ended without ending the run: its trainer crashed, in set-up (`failed_setup`,
   * before `run.started`) or later (`error`), and the run goes back to the queue. The attempt it
   * spent is the event's own.
   */
  event("attempt.failed", failure),
  /**
   * The run stopped at a step boundary because someone paused it; a checkpoint of that point was
   * saved just before (`checkpoint.saved`), and the attempt is not counted. Where training stood
   * (`epoch` in progress, optimizer `step`); both null when the run was paused in the queue.
   */
  event("run.paused", { epoch: count.nullable(), step: count.nullable() }),
  /** Someone resumed the paused run: it is queued again and continues from its checkpoint. */
  event("run.resumed", {}),
]);
export type TrainingEvent = z.infer<typeof TrainingEventSchema>;
export type TrainingEventType = TrainingEvent["type"];
export type EventOfType<T extends TrainingEventType> = Extract<TrainingEvent, { type: T }>;

export const TRAINING_EVENT_TYPES = TrainingEventSchema.options.map(
  (option) => option.shape.type.value,
) as readonly TrainingEventType[];

export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(["run.completed", "run.failed"]);
