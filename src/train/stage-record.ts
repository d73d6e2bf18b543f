import type {
  ArchitectureReport,
  GrowthReport,
  StageHeader,
  StageRecord,
  TrainingEvent,
} from "../core/events.ts";
import { forwardFlops, parameterCount } from "../core/flops.ts";
import type { Architecture } from "../core/growth-space.ts";
import type { ScheduledStage } from "../core/schedule.ts";
import { tokenCount, type ViTConfig } from "../model/config.ts";

/**
 * The one builder of stage and growth records and of their events (`stage.started`,
 * `stage.grown`): the scheduled, searched and supernet paths all describe a stage the same way.
 */

/** Where a stage sits in the run: its index, first epoch and length in epochs. */
export interface StageSpan {
  readonly stage: number;
  readonly startEpoch: number;
  readonly epochs: number;
}

/** A change of architecture between two stages, as the trainer performed it. */
export interface Growth {
  readonly from: Architecture;
  readonly to: Architecture;
  readonly operator: string;
  /** Training-loop seconds when the growth happened. */
  readonly secondsSoFar: number;
}

export function architectureReport(config: ViTConfig, architecture: Architecture): ArchitectureReport {
  return {
    depth: architecture.depth,
    side: architecture.side,
    tokens: tokenCount(config, architecture.side),
  };
}

/** Stage k of a schedule runs from its start epoch to the next stage's (or the run's end). */
export function stageSpan(
  schedule: { readonly stages: readonly ScheduledStage[]; readonly epochs: number },
  k: number,
): StageSpan {
  const scheduled = schedule.stages[k];
  if (!scheduled) throw new Error(`no stage ${k}`);
  const endEpoch = schedule.stages[k + 1]?.startEpoch ?? schedule.epochs;
  return { stage: k, startEpoch: scheduled.startEpoch, epochs: endEpoch - scheduled.startEpoch };
}

export function stageHeader(config: ViTConfig, span: StageSpan, architecture: Architecture): StageHeader {
  return {
    stage: span.stage,
    startEpoch: span.startEpoch,
    epochs: span.epochs,
    ...architectureReport(config, architecture),
  };
}

export function stageRecord(
  config: ViTConfig,
  span: StageSpan,
  architecture: Architecture,
  growth: GrowthReport | null,
): StageRecord {
  return {
    ...stageHeader(config, span, architecture),
    flopsPerImage: forwardFlops(config, architecture.depth, architecture.side),
    parameters: parameterCount(config, architecture.depth),
    growth,
  };
}

export function growthReport(config: ViTConfig, growth: Growth): GrowthReport {
  const { from, to } = growth;
  return {
    from: architectureReport(config, from),
    to: architectureReport(config, to),
    operator: growth.operator,
    parametersBefore: parameterCount(config, from.depth),
    parametersAfter: parameterCount(config, to.depth),
    flopsBefore: forwardFlops(config, from.depth, from.side),
    flopsAfter: forwardFlops(config, to.depth, to.side),
    secondsSoFar: growth.secondsSoFar,
  };
}

/** `stage.started` carries the header only, whether given a header or a whole record. */
export function stageStartedEvent(header: StageHeader): TrainingEvent {
  const { stage, startEpoch, epochs, depth, side, tokens } = header;
  return { type: "stage.started", stage, startEpoch, epochs, depth, side, tokens };
}

export function stageGrownEvent(stage: number, growth: GrowthReport): TrainingEvent {
  return { type: "stage.grown", stage, ...growth };
}
