import { forwardFlops } from "./flops.ts";
import type { Architecture } from "./growth-space.ts";
import {
  depthParts,
  modelConfigFromSpec,
  resnetShapeOf,
  tokenCount,
  type ViTConfig,
  voloShapeOf,
} from "./model-config.ts";
import { armStages } from "./schedule.ts";
import { type ArmSpec, armLabel, DATASET_SHAPES, type ExperimentSpec } from "./spec.ts";

/**
 * What an arm will train, stage by stage, before any tensor exists: the basis of
 * `POST /v1/experiments/validate` answers and of FLOPs estimates. Arms whose architecture is decided by
 * search report their per-stage spaces instead of a fixed architecture.
 */
export interface StagePlan {
  readonly stage: number;
  readonly startEpoch: number;
  readonly epochs: number;
  /** The architecture trained, when known in advance. */
  readonly architecture:
    | (Architecture & {
        readonly tokens: number;
        readonly flopsPerImage: number;
        /** VOLO: outlookers among the depth's blocks (absent for a ViT). */
        readonly outlookers?: number;
        /** ResNet: the depth's blocks per stage (absent otherwise). */
        readonly stageBlocks?: readonly number[];
      })
    | null;
}

export interface ArmPlan {
  readonly arm: string;
  readonly kind: ArmSpec["arm"];
  readonly stages: readonly StagePlan[];
  /** Forward FLOPs per image of the full model. */
  readonly flopsFull: number;
  /** Epoch-weighted mean forward FLOPs per image, when every stage is known. */
  readonly flopsPerImageMean: number | null;
  /** flopsFull / mean − 1, when known. */
  readonly flopsSpeedup: number | null;
}

export function modelConfigOf(spec: ExperimentSpec): ViTConfig {
  const shape = DATASET_SHAPES[spec.dataset.name];
  return modelConfigFromSpec(spec.model, shape);
}

export function planArm(spec: ExperimentSpec, arm: ArmSpec): ArmPlan {
  const config = modelConfigOf(spec);
  const epochs = spec.training.epochs;
  const scheduled = armStages(spec, arm, config);
  const stages = scheduled.map(({ startEpoch, architecture }, k): StagePlan => {
    const end = scheduled[k + 1]?.startEpoch ?? epochs;
    return {
      stage: k,
      startEpoch,
      epochs: end - startEpoch,
      architecture: architecture && {
        ...architecture,
        tokens: tokenCount(config, architecture.side),
        flopsPerImage: forwardFlops(config, architecture.depth, architecture.side),
        ...(voloShapeOf(config) ? { outlookers: depthParts(config, architecture.depth)[0] ?? 0 } : {}),
        ...(resnetShapeOf(config) ? { stageBlocks: depthParts(config, architecture.depth) } : {}),
      },
    };
  });
  const flopsFull = forwardFlops(config, config.depth, config.imageSize);
  const known = stages.every((s) => s.architecture !== null);
  const mean = known
    ? stages.reduce((sum, s) => sum + (s.architecture?.flopsPerImage ?? 0) * s.epochs, 0) / epochs
    : null;
  return {
    arm: armLabel(arm),
    kind: arm.arm,
    stages,
    flopsFull,
    flopsPerImageMean: mean,
    flopsSpeedup: mean ? flopsFull / mean - 1 : null,
  };
}

/** Plans of every arm of an experiment. */
export function planExperiment(spec: ExperimentSpec): ArmPlan[] {
  return spec.arms.map((arm) => planArm(spec, arm));
}
