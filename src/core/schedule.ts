import { type Architecture, growthSpaceOptions, linearSchedule, stageStartEpochs } from "./growth-space.ts";
import type { ViTConfig } from "./model-config.ts";
import type { ArmSpec, ExperimentSpec, GrowthOperatorName } from "./spec.ts";

/**
 * What each arm trains when (autoprog-spec §4): a list of stages with their start epoch and
 * architecture. An architecture of null means a search decides it at run time.
 */
export interface ScheduledStage {
  readonly startEpoch: number;
  readonly architecture: Architecture | null;
}

/** progstack: ¼, ½ and all of the blocks, for 1/8, 2/8 and 5/8 of the epochs. */
const PROGSTACK_DEPTHS = [0.25, 0.5, 1] as const;
const PROGSTACK_EPOCH_SHARES = [0, 1 / 8, 3 / 8] as const;

export function armStages(spec: ExperimentSpec, arm: ArmSpec, config: ViTConfig): ScheduledStage[] {
  const epochs = spec.training.epochs;
  const uniform = (architectures: readonly (Architecture | null)[]) => {
    const starts = stageStartEpochs(epochs, architectures.length);
    return architectures.map((architecture, k) => ({ startEpoch: starts[k] as number, architecture }));
  };
  const full = { depth: config.depth, side: config.imageSize };
  switch (arm.arm) {
    case "original":
      // One stage: the full model throughout.
      return uniform([full]);
    case "prog":
      return uniform(linearSchedule({ ...growthSpaceOptions(spec, config), initialRatio: arm.initialRatio }));
    case "progstack":
      return PROGSTACK_DEPTHS.map((share, k) => ({
        startEpoch: Math.floor(epochs * (PROGSTACK_EPOCH_SHARES[k] as number)),
        architecture: { depth: Math.max(1, Math.round(share * config.depth)), side: config.imageSize },
      }));
    case "fixed":
      return uniform(arm.schedule);
    case "autoprog":
      // Searched stages, then always the full model.
      return uniform(
        Array.from({ length: spec.training.stages }, (_, k) =>
          k === spec.training.stages - 1 ? full : null,
        ),
      );
    case "supernet":
      return uniform([null]);
  }
}

/** The growth operator an arm uses (null for arms that never grow). */
export function armOperator(arm: ArmSpec): GrowthOperatorName | null {
  switch (arm.arm) {
    case "original":
    case "supernet":
      return null;
    case "progstack":
      return arm.operator ?? "stacking";
    default:
      return arm.operator ?? "mogrow";
  }
}

/** Index of the stage an epoch belongs to. */
export function stageIndexAt(stages: readonly ScheduledStage[], epoch: number): number {
  let index = 0;
  stages.forEach((stage, k) => {
    if (epoch >= stage.startEpoch) index = k;
  });
  return index;
}
