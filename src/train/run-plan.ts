import { adaptiveRegularizationOf } from "../core/arms.ts";
import type { BatchScalingOptions } from "../core/batch-scaling.ts";
import type { TrainingEvent } from "../core/events.ts";
import { forwardFlops } from "../core/flops.ts";
import type { Architecture } from "../core/growth-space.ts";
import type { LrSchedule } from "../core/lr.ts";
import type { ModelFamily } from "../core/model-config.ts";
import { armOperator, armStages, type ScheduledStage } from "../core/schedule.ts";
import { type ArmSpec, armLabel, type ExperimentSpec } from "../core/spec.ts";
import { DEFAULT_RAND_AUGMENT } from "../core/spec-schema.ts";
import { type AugmentOptions, DEFAULT_AUGMENT } from "../data/augment.ts";
import type { RandAugmentOptions } from "../data/rand-augment.ts";
import type { ViTConfig } from "../model/config.ts";
import { initialSearchArchitecture, isSearchArm, type SearchContext } from "./autoprog.ts";
import { specHash } from "./checkpoint.ts";
import type { Setup } from "./setup.ts";
import type { StageContext } from "./stages.ts";

/** What a run derives from its spec, arm and seed once the data is loaded: no state, no I/O. */
export interface RunPlan {
  readonly label: string;
  readonly seed: number;
  /** The spec's batch (capped by the training set): the full model's, and every stage's without batch scaling. */
  readonly batchSize: number;
  /** Steps of an epoch at `batchSize`; the LR curve and the EMA horizons count in these. */
  readonly stepsPerEpoch: number;
  /** Null: every stage trains at `batchSize`. */
  readonly batchScaling: BatchScalingOptions | null;
  readonly lrSchedule: LrSchedule;
  readonly stages: readonly ScheduledStage[];
  readonly stageContext: StageContext;
  /** Null unless the arm searches its stages (autoprog, supernet). */
  readonly searchContext: SearchContext | null;
  /** AdaReg: regularisation grows with the stage index. */
  readonly adaptive: boolean;
  readonly baseAugment: AugmentOptions;
  /** Identifies the spec in checkpoints: a resume under another spec is refused. */
  readonly specHash: string;
  /** Forward FLOPs per image of the full model at full side. */
  readonly flopsFull: number;
}

export function planRun(
  spec: ExperimentSpec,
  arm: ArmSpec,
  seed: number,
  setup: Setup,
  emit: (event: TrainingEvent) => void,
): RunPlan {
  const { train, config } = setup;
  const t = spec.training;
  const batchSize = Math.min(t.batchSize, train.count);
  const stepsPerEpoch = Math.floor(train.count / batchSize);
  const stageContext = stageContextOf(spec, arm, seed, config, emit);
  const { stages } = stageContext;
  const baseAugment: AugmentOptions = {
    ...DEFAULT_AUGMENT[spec.dataset.name],
    ...definedOnly(t.augment),
    randAugment: randAugmentOf(t.augment.randAugment, config.family ?? "vit"),
  };
  return {
    label: armLabel(arm),
    seed,
    batchSize,
    stepsPerEpoch,
    batchScaling: t.batchScaling
      ? {
          maxBatch: t.batchScaling.maxBatch ?? 4 * batchSize,
          multiple: t.batchScaling.multiple,
          lrScaling: t.batchScaling.lrScaling,
        }
      : null,
    lrSchedule: {
      peak: t.lr,
      floor: t.minLr,
      warmupSteps: Math.round(t.warmupEpochs * stepsPerEpoch),
      totalSteps: stepsPerEpoch * t.epochs,
    },
    stages,
    stageContext,
    searchContext: isSearchArm(arm)
      ? { ...stageContext, spec, arm, train, augment: baseAugment, batchSize, stepsPerEpoch }
      : null,
    adaptive: adaptiveRegularizationOf(arm, config.family ?? "vit"),
    baseAugment,
    specHash: specHash(spec),
    flopsFull: forwardFlops(config, config.depth, config.imageSize),
  };
}

/** What entering a stage needs: the arm's schedule and growth operator, and where events go. */
function stageContextOf(
  spec: ExperimentSpec,
  arm: ArmSpec,
  seed: number,
  config: ViTConfig,
  emit: (event: TrainingEvent) => void,
): StageContext {
  return {
    config,
    stages: armStages(spec, arm, config),
    epochs: spec.training.epochs,
    operator: armOperator(arm),
    momentumEma: spec.training.momentumEma,
    carryOptimizerState: "carryOptimizerState" in arm && arm.carryOptimizerState,
    seed,
    emit,
  };
}

/** The architecture a fresh run's model is created at: its first stage's, or Ω_0's largest. */
export function initialArchitecture(plan: RunPlan): Architecture {
  const { config } = plan.stageContext;
  return (
    plan.stages[0]?.architecture ??
    (plan.searchContext
      ? initialSearchArchitecture(plan.searchContext)
      : { depth: config.depth, side: config.imageSize })
  );
}

/** The spec's RandAugment, else its family's default: on for VOLO, off for the ViT (the paper's recipes). */
export function randAugmentOf(
  chosen: RandAugmentOptions | null | undefined,
  family: ModelFamily,
): RandAugmentOptions | null {
  if (chosen !== undefined) return chosen;
  return family === "volo" ? { ...DEFAULT_RAND_AUGMENT } : null;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
