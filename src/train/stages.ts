import type { GrowthReport, TrainingEvent } from "../core/events.ts";
import type { ScheduledStage } from "../core/schedule.ts";
import type { GrowthOperatorName } from "../core/spec.ts";
import type { ViTConfig } from "../model/config.ts";
import { modelDepthMap } from "../model/depth-map.ts";
import { growthReport, stageGrownEvent, stageRecord, stageSpan, stageStartedEvent } from "./stage-record.ts";
import { growState, type ModelState } from "./state.ts";

export interface StageContext {
  readonly config: ViTConfig;
  readonly stages: readonly ScheduledStage[];
  readonly epochs: number;
  readonly operator: GrowthOperatorName | null;
  readonly momentumEma: string;
  readonly carryOptimizerState: boolean;
  readonly seed: number;
  readonly emit: (event: TrainingEvent) => void;
}

export function activeDepth(state: ModelState): number {
  return state.activeBlocks.filter(Boolean).length;
}

/**
 * Moves the run into stage k: grows the model to the stage's depth (the arm's operator), sets
 * its side, records the stage and emits stage.grown (when the architecture changed) and
 * stage.started.
 */
export function enterStage(
  state: ModelState,
  k: number,
  context: StageContext,
  architecture: ScheduledStage["architecture"] = null,
): void {
  const span = stageSpan(context, k);
  const target = architecture ?? context.stages[k]?.architecture;
  if (!target) throw new Error(`stage ${k} has no architecture`);
  const from = { depth: activeDepth(state), side: state.side };
  if (target.depth < state.depth || target.side < state.side) {
    throw new Error(
      `stage ${k} would shrink the model from ${from.depth}@${from.side} to ${target.depth}@${target.side}`,
    );
  }
  const changed = target.depth !== from.depth || target.side !== from.side;
  let growth: GrowthReport | null = null;
  if (state.stage >= 0 && changed) {
    const operator = context.operator ?? "interpolation";
    if (target.depth > state.depth) {
      growState(state, {
        map: modelDepthMap(context.config, state.depth, target.depth, operator),
        operator,
        momentumEma: context.momentumEma,
        carryOptimizerState: context.carryOptimizerState,
        seed: context.seed,
      });
    }
    growth = growthReport(context.config, { from, to: target, operator, secondsSoFar: state.wallSeconds });
    context.emit(stageGrownEvent(k, growth));
  }
  state.side = target.side;
  state.stage = k;
  const record = stageRecord(context.config, span, target, growth);
  state.stages.push(record);
  context.emit(stageStartedEvent(record));
}

/** RandAugment's magnitude multiplier under AdaReg: 0.5× at the first stage → 1× at the last. */
export function randAugmentScale(regularisation: number): number {
  return 0.5 + 0.5 * regularisation;
}

/** AdaReg: regularisation grows linearly with the stage index, from 0 to its spec value. */
export function regularisationScale(stage: number, stageCount: number, adaptive: boolean): number {
  if (!adaptive || stageCount <= 1) return 1;
  return stage / (stageCount - 1);
}
