import { forwardFlops } from "./flops.ts";
import { type Architecture, type GrowthSpaceOptions, stageSpace, stageStartEpochs } from "./growth-space.ts";
import { modelConfigFromSpec, tokenCount, type ViTConfig } from "./model-config.ts";
import { type ArmSpec, DATASET_SHAPES, type ExperimentSpec } from "./spec.ts";

/**
 * What an arm will train, stage by stage, before any tensor exists: the basis of
 * `validate_only` answers and of FLOPs estimates. Arms whose architecture is decided by
 * search report their per-stage spaces instead of a fixed architecture.
 */
export interface StagePlan {
  readonly stage: number;
  readonly startEpoch: number;
  readonly epochs: number;
  /** The architecture trained, when known in advance. */
  readonly architecture: (Architecture & { readonly tokens: number; readonly flopsPerImage: number }) | null;
}

export interface ArmPlan {
  readonly arm: ArmSpec["arm"];
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

export function growthSpaceOptions(
  spec: ExperimentSpec,
  config: ViTConfig,
  initialRatio = 0.5,
): GrowthSpaceOptions {
  return {
    depth: config.depth,
    side: config.imageSize,
    patchSize: config.patchSize,
    stages: spec.training.stages,
    initialRatio,
  };
}

/** The architecture each stage of an arm trains, or null where a search decides. */
export function armSchedule(spec: ExperimentSpec, arm: ArmSpec, config: ViTConfig): (Architecture | null)[] {
  const full = { depth: config.depth, side: config.imageSize };
  switch (arm.arm) {
    case "original":
      return Array.from({ length: spec.training.stages }, () => full);
  }
}

export function planArm(spec: ExperimentSpec, arm: ArmSpec): ArmPlan {
  const config = modelConfigOf(spec);
  const epochs = spec.training.epochs;
  const starts = stageStartEpochs(epochs, spec.training.stages);
  const schedule = armSchedule(spec, arm, config);
  const stages = schedule.map((architecture, k): StagePlan => {
    const startEpoch = starts[k] as number;
    const end = k + 1 < starts.length ? (starts[k + 1] as number) : epochs;
    return {
      stage: k,
      startEpoch,
      epochs: end - startEpoch,
      architecture: architecture && {
        ...architecture,
        tokens: tokenCount(config, architecture.side),
        flopsPerImage: forwardFlops(config, architecture.depth, architecture.side),
      },
    };
  });
  const flopsFull = forwardFlops(config, config.depth, config.imageSize);
  const known = stages.every((s) => s.architecture !== null);
  const mean = known
    ? stages.reduce((sum, s) => sum + (s.architecture?.flopsPerImage ?? 0) * s.epochs, 0) / epochs
    : null;
  return {
    arm: arm.arm,
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

/** Ω_0 for a spec, exposed for search previews. */
export function firstStageSpace(spec: ExperimentSpec, initialRatio = 0.5): Architecture[] {
  const config = modelConfigOf(spec);
  return stageSpace(growthSpaceOptions(spec, config, initialRatio), 0, { depth: 0, side: 0 });
}
