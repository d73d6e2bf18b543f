import type { ArchitectureReport, StageRecord, TrainingEvent } from "../core/events.ts";
import { forwardFlops, parameterCount } from "../core/flops.ts";
import type { ScheduledStage } from "../core/schedule.ts";
import type { GrowthOperatorName } from "../core/spec.ts";
import { tokenCount, type ViTConfig } from "../model/config.ts";
import { depthMap } from "../model/depth-map.ts";
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

export function architectureReport(config: ViTConfig, depth: number, side: number): ArchitectureReport {
  return { depth, side, tokens: tokenCount(config, side) };
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
  const { config } = context;
  const scheduled = context.stages[k];
  const target = architecture ?? scheduled?.architecture;
  if (!scheduled || !target) throw new Error(`stage ${k} has no architecture`);
  const from = architectureReport(config, activeDepth(state), state.side);
  let growth: StageRecord["growth"] = null;
  if (target.depth < state.depth || target.side < state.side) {
    throw new Error(
      `stage ${k} would shrink the model from ${from.depth}@${from.side} to ${target.depth}@${target.side}`,
    );
  }
  const changed = target.depth !== from.depth || target.side !== from.side;
  if (state.stage >= 0 && changed) {
    const operator = context.operator ?? "interpolation";
    if (target.depth > state.depth) {
      growState(state, {
        map: depthMap(state.depth, target.depth, operator),
        operator,
        momentumEma: context.momentumEma,
        carryOptimizerState: context.carryOptimizerState,
        seed: context.seed,
      });
    }
    state.side = target.side;
    growth = {
      from,
      to: architectureReport(config, target.depth, target.side),
      operator,
      parametersBefore: parameterCount(config, from.depth),
      parametersAfter: parameterCount(config, target.depth),
      flopsBefore: forwardFlops(config, from.depth, from.side),
      flopsAfter: forwardFlops(config, target.depth, target.side),
      secondsSoFar: state.wallSeconds,
    };
    context.emit({ type: "stage.grown", stage: k, ...growth });
  }
  state.side = target.side;
  state.stage = k;
  const endEpoch = context.stages[k + 1]?.startEpoch ?? context.epochs;
  const record: StageRecord = {
    stage: k,
    startEpoch: scheduled.startEpoch,
    epochs: endEpoch - scheduled.startEpoch,
    depth: target.depth,
    side: target.side,
    tokens: tokenCount(config, target.side),
    flopsPerImage: forwardFlops(config, target.depth, target.side),
    parameters: parameterCount(config, target.depth),
    growth,
  };
  state.stages.push(record);
  context.emit({
    type: "stage.started",
    stage: k,
    startEpoch: record.startEpoch,
    epochs: record.epochs,
    depth: record.depth,
    side: record.side,
    tokens: record.tokens,
  });
}

/** AdaReg: regularisation grows linearly with the stage index, from 0 to its spec value. */
export function regularisationScale(stage: number, stageCount: number, adaptive: boolean): number {
  if (!adaptive || stageCount <= 1) return 1;
  return stage / (stageCount - 1);
}
