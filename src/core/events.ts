import type { ScoredCandidate } from "./search-score.ts";

/**
 * The typed event stream: the single contract between the trainer and everything else
 * (database, SSE, webhooks, CLI). Payloads are plain JSON data.
 */

export interface BackendReport {
  readonly name: string;
  readonly package: string;
  readonly threads: number;
  readonly device: string;
  readonly gpu: boolean;
}

export interface ArchitectureReport {
  readonly depth: number;
  readonly side: number;
  readonly tokens: number;
}

export interface EvaluationReport {
  /** Top-1 of the online model on the test split, in [0, 1]. */
  readonly online: number;
  /** Top-1 of each EMA copy, by name. */
  readonly ema: Readonly<Record<string, number>>;
  /** Best of the online model and its EMAs (what the paper reports). */
  readonly best: number;
  readonly bestSource: string;
}

/** Where a stage sits in the run and what it trains. */
export interface StageHeader {
  readonly stage: number;
  readonly startEpoch: number;
  readonly epochs: number;
  readonly depth: number;
  readonly side: number;
  readonly tokens: number;
}

/** One stage of a run as it happened. */
export interface StageRecord extends StageHeader {
  /** Forward FLOPs per image of the stage's sub-network. */
  readonly flopsPerImage: number;
  readonly parameters: number;
  /** The growth that opened the stage (null for the first stage or when nothing changed). */
  readonly growth: GrowthReport | null;
}

export interface GrowthReport {
  readonly from: ArchitectureReport;
  readonly to: ArchitectureReport;
  readonly operator: string;
  readonly parametersBefore: number;
  readonly parametersAfter: number;
  readonly flopsBefore: number;
  readonly flopsAfter: number;
  /** Training-loop seconds when the growth happened. */
  readonly secondsSoFar: number;
}

/** Top-1 of the final model at one input side (the paper also tests at a larger side). */
export interface SideEvaluation {
  readonly side: number;
  readonly online: number;
  readonly ema: Readonly<Record<string, number>>;
  readonly best: number;
}

/** One searched stage: every candidate's numbers and the fit (autoprog-spec §5.4). */
export interface SearchRecord {
  readonly stage: number;
  readonly candidates: readonly ScoredCandidate[];
  readonly a1: number;
  readonly w: number;
  readonly cost: "time" | "flops";
  readonly winner: { readonly depth: number; readonly side: number };
  /** Seconds spent measuring candidates (loss passes and step timing). */
  readonly searchSeconds: number;
  readonly supernetEpochs: number;
}

export interface EpochRecord {
  readonly epoch: number;
  /** "supernet" while an elastic supernet trains (architecture = its largest candidate). */
  readonly phase: "train" | "supernet";
  readonly step: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly lr: number;
  readonly imagesPerSecond: number;
  readonly epochSeconds: number;
  /** Mean forward FLOPs per image over this epoch's steps. */
  readonly flopsPerImage: number;
  readonly architecture: ArchitectureReport;
  /** Null on epochs skipped by `training.evalEvery`. */
  readonly evaluation: EvaluationReport | null;
}

export interface RunResult {
  readonly arm: string;
  readonly seed: number;
  readonly backend: BackendReport;
  readonly epochs: number;
  readonly steps: number;
  /** Final top-1 (best of online and EMAs at the last epoch). */
  readonly top1: number;
  /** Best top-1 over all epochs. */
  readonly bestTop1: number;
  /** Training loop time: steps, per-epoch evaluation and checkpoints (data loading excluded). */
  readonly wallSeconds: number;
  /**
   * CPU seconds the process used over the same span. With one-threaded backends it equals the
   * wall time on an idle machine and stays honest when other work shares the cores.
   */
  readonly cpuSeconds: number;
  /** Optimizer steps only: the figure speedups compare. */
  readonly trainSeconds: number;
  /** Mean forward FLOPs per image over all training steps. */
  readonly flopsPerStepMean: number;
  /** Forward FLOPs per image of the full model at full side. */
  readonly flopsFull: number;
  readonly parameters: number;
  readonly history: readonly EpochRecord[];
  readonly stages: readonly StageRecord[];
  /** The architecture of each stage, in the format a `fixed` arm replays. */
  readonly schedule: readonly { readonly depth: number; readonly side: number }[];
  readonly search: readonly SearchRecord[];
  /** Candidate measurement passes (included in wallSeconds, excluded from trainSeconds). */
  readonly searchSeconds: number;
  /** Training time of supernet epochs (included in trainSeconds and wallSeconds). */
  readonly supernetSeconds: number;
  /** Final top-1 at each evaluation side (the trained side first). */
  readonly sideEvaluations: readonly SideEvaluation[];
}

export type FailureReason = "failed_setup" | "non_finite_loss" | "cancelled" | "error";

export type TrainingEvent =
  | {
      readonly type: "run.started";
      readonly arm: string;
      readonly seed: number;
      readonly backend: BackendReport;
      readonly epochs: number;
      readonly stepsPerEpoch: number;
      readonly trainImages: number;
      readonly testImages: number;
      readonly parameters: number;
      readonly flopsFull: number;
      /** Epoch a resumed run continues from (0 for a fresh run). */
      readonly startEpoch: number;
    }
  | ({ readonly type: "stage.started" } & StageHeader)
  | ({ readonly type: "stage.grown"; readonly stage: number } & GrowthReport)
  | {
      readonly type: "stage.search.started";
      readonly stage: number;
      readonly startEpoch: number;
      readonly supernetEpochs: number;
      readonly candidates: readonly ArchitectureReport[];
    }
  | ({ readonly type: "stage.search.completed" } & SearchRecord)
  | ({ readonly type: "epoch.completed" } & EpochRecord)
  | {
      readonly type: "checkpoint.saved";
      readonly epoch: number;
      readonly step: number;
      readonly location: string;
    }
  | { readonly type: "run.completed"; readonly result: RunResult }
  | {
      readonly type: "run.failed";
      readonly reason: FailureReason;
      readonly message: string;
      readonly epoch: number | null;
      readonly step: number | null;
    };

export type TrainingEventType = TrainingEvent["type"];
