import type { EventOfType, TrainingEvent } from "../core/events.ts";
import {
  changeWord,
  checkpointLine,
  endLine,
  endWord,
  epochRange,
  pausedLine,
  RESUMED_LINE,
} from "../core/vocabulary.ts";

/**
 * What the run page draws, folded from the run's events in seq order. Pure (no DOM), so the
 * replay-then-live rules are tested in Node: an event at or below the last seq is ignored, and an
 * epoch seen again replaces its point, so a reconnect or a reload never duplicates a point.
 */
export interface EpochPoint {
  readonly epoch: number;
  readonly phase: "train" | "supernet";
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly imagesPerSecond: number;
  readonly flopsPerImage: number;
  /** Test top-1 of the online model; null on epochs without evaluation. */
  readonly online: number | null;
  /** Test top-1 of each EMA copy, by name. */
  readonly ema: Readonly<Record<string, number>>;
}

export interface StageBand {
  readonly stage: number;
  readonly startEpoch: number;
  readonly epochs: number;
  readonly depth: number;
  readonly side: number;
  readonly tokens: number;
  /** Forward FLOPs per image: the growth's figure, else the stage's first epoch. */
  readonly flopsPerImage: number | null;
  /** The growth operator that opened the stage (null: first stage, or nothing grew). */
  readonly operator: string | null;
}

export type SearchView = EventOfType<"stage.search.completed">;

export interface LogLine {
  readonly seq: number;
  readonly type: TrainingEvent["type"];
  readonly text: string;
}

export interface RunView {
  readonly lastSeq: number;
  readonly started: EventOfType<"run.started"> | null;
  readonly epochs: readonly EpochPoint[];
  readonly stages: readonly StageBand[];
  readonly searches: readonly SearchView[];
  /** Newest first, at most LOG_LINES. */
  readonly log: readonly LogLine[];
  readonly outcome: { readonly state: "completed" | "failed" | "cancelled"; readonly text: string } | null;
  /**
   * A growth into a stage not announced yet: a scheduled growth (e.g. MoGrow into the last
   * stage) is emitted before its `stage.started`, and the band takes its operator when it opens.
   */
  readonly pendingGrowth: EventOfType<"stage.grown"> | null;
  /** The newer of the run's last `run.paused` and `run.resumed`; null: never paused. */
  readonly pause: "paused" | "resumed" | null;
  /** Epochs the newest saved checkpoint covers (what a model download serves); null before one. */
  readonly checkpointEpoch: number | null;
}

export const LOG_LINES = 300;

export const EMPTY_RUN_VIEW: RunView = {
  lastSeq: 0,
  started: null,
  epochs: [],
  stages: [],
  searches: [],
  log: [],
  outcome: null,
  pendingGrowth: null,
  pause: null,
  checkpointEpoch: null,
};

export function applyEvent(view: RunView, seq: number, event: TrainingEvent): RunView {
  if (seq <= view.lastSeq) return view;
  const next: RunView = {
    ...view,
    lastSeq: seq,
    log: [{ seq, type: event.type, text: describe(event) }, ...view.log].slice(0, LOG_LINES),
  };
  switch (event.type) {
    case "run.started":
      return { ...next, started: event };
    case "stage.started": {
      const band = bandOf(event);
      const growth = view.pendingGrowth?.stage === event.stage ? view.pendingGrowth : null;
      const opened = growth ? { ...band, operator: growth.operator, flopsPerImage: growth.flopsAfter } : band;
      return { ...next, stages: upsertStage(view.stages, opened), pendingGrowth: null };
    }
    case "stage.grown": {
      const stage = view.stages.find((s) => s.stage === event.stage);
      if (!stage) return { ...next, pendingGrowth: event };
      // A searched stage is announced with the supernet's size; the growth says what it trains.
      const grown = { ...stage, ...event.to, operator: event.operator, flopsPerImage: event.flopsAfter };
      return { ...next, stages: upsertStage(view.stages, grown) };
    }
    case "stage.search.completed":
      return { ...next, searches: [...view.searches.filter((s) => s.stage !== event.stage), event] };
    case "epoch.completed":
      return {
        ...next,
        epochs: upsertEpoch(view.epochs, pointOf(event)),
        stages: withEpochFlops(next, event),
      };
    case "run.paused":
      return { ...next, pause: "paused" };
    case "run.resumed":
      return { ...next, pause: "resumed" };
    case "checkpoint.saved":
      return { ...next, checkpointEpoch: event.epoch };
    case "run.completed":
      return { ...next, outcome: { state: "completed", text: `top-1 ${pct(event.result.top1)}` } };
    case "run.failed":
      // A cancellation is its own end (the run's state is `cancelled`), not a failure.
      return {
        ...next,
        outcome:
          endWord(event.reason) === "cancelled"
            ? { state: "cancelled", text: event.message }
            : { state: "failed", text: `${event.reason}: ${event.message}` },
      };
    default:
      return next;
  }
}

function pointOf(event: EventOfType<"epoch.completed">): EpochPoint {
  return {
    epoch: event.epoch,
    phase: event.phase,
    trainLoss: event.trainLoss,
    trainAccuracy: event.trainAccuracy,
    imagesPerSecond: event.imagesPerSecond,
    flopsPerImage: event.flopsPerImage,
    online: event.evaluation?.online ?? null,
    ema: event.evaluation?.ema ?? {},
  };
}

function bandOf(event: EventOfType<"stage.started">): StageBand {
  const { stage, startEpoch, epochs, depth, side, tokens } = event;
  return { stage, startEpoch, epochs, depth, side, tokens, flopsPerImage: null, operator: null };
}

function upsertEpoch(points: readonly EpochPoint[], point: EpochPoint): EpochPoint[] {
  return [...points.filter((p) => p.epoch !== point.epoch), point].sort((a, b) => a.epoch - b.epoch);
}

function upsertStage(stages: readonly StageBand[], stage: StageBand): StageBand[] {
  return [...stages.filter((s) => s.stage !== stage.stage), stage].sort((a, b) => a.stage - b.stage);
}

/** A stage without a growth figure takes the FLOPs of its first trained epoch. */
function withEpochFlops(view: RunView, event: EventOfType<"epoch.completed">): readonly StageBand[] {
  const stage = [...view.stages].reverse().find((s) => s.startEpoch <= event.epoch);
  if (!stage || stage.flopsPerImage !== null || event.phase === "supernet") return view.stages;
  return upsertStage(view.stages, { ...stage, flopsPerImage: event.flopsPerImage });
}

/** The EMA names seen so far, for one series each. */
export const emaNames = (points: readonly EpochPoint[]): string[] =>
  [...new Set(points.flatMap((p) => Object.keys(p.ema)))].sort();

const pct = (value: number) => `${(value * 100).toFixed(2)}%`;

/** One line of the event log. */
export function describe(event: TrainingEvent): string {
  switch (event.type) {
    case "run.started":
      return `${event.arm} seed ${event.seed} on ${event.backend.name}, ${event.epochs} epochs from ${event.startEpoch}`;
    case "stage.started":
      return `stage ${event.stage}: ${epochRange(event.startEpoch, event.epochs)}, depth ${event.depth}, side ${event.side}, ${event.tokens} tokens`;
    case "stage.grown":
      return `stage ${event.stage} ${changeWord(event.from, event.to)} by ${event.operator}: depth ${event.from.depth}→${event.to.depth}, side ${event.from.side}→${event.to.side}`;
    case "stage.search.started":
      return `stage ${event.stage}: search over ${event.candidates.length} candidates`;
    case "stage.search.completed":
      return `stage ${event.stage}: chose depth ${event.winner.depth}, side ${event.winner.side} (w ${event.w.toFixed(3)})`;
    case "epoch.completed":
      return `epoch ${event.epoch} (${event.phase}): loss ${event.trainLoss.toFixed(4)}, ${Math.round(event.imagesPerSecond)} img/s${event.evaluation ? `, test ${pct(event.evaluation.best)}` : ""}`;
    case "checkpoint.saved":
      return checkpointLine(event.epoch);
    case "run.completed":
      return `completed: top-1 ${pct(event.result.top1)}, ${event.result.wallSeconds.toFixed(1)} s`;
    case "run.failed":
      return endLine(event.reason, event.message);
    case "attempt.failed":
      return `attempt failed (${event.reason}): ${event.message}; the run goes back to the queue`;
    case "run.paused":
      return pausedLine(event.epoch, event.step);
    case "run.resumed":
      return RESUMED_LINE;
  }
}
