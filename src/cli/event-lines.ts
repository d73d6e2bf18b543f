import type { RunResult, TrainingEvent } from "../core/events.ts";
import { changeWord, endLine, epochRange, pausedLine, RESUMED_LINE } from "../core/vocabulary.ts";

/**
 * One line of text per training event, shared by `autoprog train` (events from the local
 * trainer) and `autoprog watch` (the same events over SSE), so both read alike. Epochs and
 * stages are numbered from 0, as the API stores them (src/core/vocabulary.ts).
 */

export const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The line that closes a run: what it reached and what it cost. */
export function resultLine(result: RunResult): string {
  return (
    `done: top-1 ${percent(result.top1)} (best ${percent(result.bestTop1)}), ${result.wallSeconds.toFixed(1)} s, ` +
    `${result.backend.name} on ${result.backend.device}`
  );
}

/** The line an event prints as, or undefined for events not worth a line (checkpoints). */
export function eventLine(event: TrainingEvent): string | undefined {
  switch (event.type) {
    case "run.started":
      return (
        `${event.arm} seed ${event.seed}: ${event.trainImages} train / ${event.testImages} test images, ` +
        `${event.epochs} epochs × ${event.stepsPerEpoch} steps, ${(event.parameters / 1e3).toFixed(0)}k params, ` +
        `backend ${event.backend.name} (${event.backend.threads} thread${event.backend.threads > 1 ? "s" : ""}, ${event.backend.device})` +
        (event.startEpoch > 0 ? `, resumed at epoch ${event.startEpoch}` : "")
      );
    case "epoch.completed":
      return (
        `epoch ${event.epoch}: loss ${event.trainLoss.toFixed(4)}, train ${percent(event.trainAccuracy)}, ` +
        (event.evaluation
          ? `test ${percent(event.evaluation.online)} (best ${percent(event.evaluation.best)} ${event.evaluation.bestSource}), `
          : "") +
        `${event.imagesPerSecond.toFixed(1)} img/s, lr ${event.lr.toExponential(2)}, ` +
        // A supernet epoch trained sampled sub-networks (and maybe the winner after its phase).
        (event.phase === "supernet" ? "supernet up to " : "") +
        `depth ${event.architecture.depth} side ${event.architecture.side}`
      );
    case "stage.started":
      return (
        `stage ${event.stage}: ${epochRange(event.startEpoch, event.epochs)}, ` +
        `depth ${event.depth}, side ${event.side} (${event.tokens} tokens)`
      );
    case "stage.grown":
      return (
        `  ${changeWord(event.from, event.to)} (${event.operator}): ${event.from.depth}@${event.from.side} → ${event.to.depth}@${event.to.side}, ` +
        `${(event.flopsBefore / 1e6).toFixed(1)} → ${(event.flopsAfter / 1e6).toFixed(1)} MFLOPs/image`
      );
    case "stage.search.started":
      return (
        `  search: ${event.candidates.length} candidates, supernet for ${event.supernetSteps} steps: ` +
        event.candidates.map((c) => `${c.depth}@${c.side}`).join(" ")
      );
    case "stage.search.completed":
      return (
        `  search done in ${event.searchSeconds.toFixed(1)} s (${event.selection}` +
        (event.winnerWeights === "regrow" ? ", look-ahead" : "") +
        (event.selection === "paired"
          ? `, z ${event.z}`
          : `, a1 ${event.a1.toFixed(3)}, w ${event.w.toFixed(3)}`) +
        "; * chosen, = tied): " +
        event.candidates
          .map(
            (c) =>
              `${c.chosen ? "*" : ""}${c.tied ? "=" : ""}${c.depth}@${c.side} L=${c.loss.toFixed(3)}` +
              (event.selection === "paired"
                ? ` Δ=${c.meanDifference.toFixed(4)}±${c.standardError.toFixed(4)}`
                : ` S=${c.score.toPrecision(3)}`),
          )
          .join(", ")
      );
    case "checkpoint.saved":
      return undefined;
    case "run.completed":
      return resultLine(event.result);
    case "run.failed":
      return `run ${endLine(event.reason, event.message)}`;
    case "attempt.failed":
      return `attempt failed (${event.reason}): ${event.message}; the run goes back to the queue`;
    case "run.paused":
      return `run ${pausedLine(event.epoch, event.step)}`;
    case "run.resumed":
      return `run ${RESUMED_LINE}`;
  }
}
