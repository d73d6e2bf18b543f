import type { ArchitectureReport, FailureReason } from "./events.ts";

/**
 * The words people read, chosen once (issue 26) and used by the CLI, the dashboard and the docs;
 * tests/core/vocabulary.test.ts walks every event, webhook, CLI line and dashboard label for them.
 *
 * - `cancelled`, the run state's spelling, everywhere (the webhook type is `run.cancelled`).
 * - Epochs are numbered as the API stores them: from 0 (`epoch`, `startEpoch`). Counts stay
 *   counts (`epochs`, `epochsCompleted`, a checkpoint's `epoch` = epochs it covers), so a
 *   checkpoint covering 4 epochs is "after epoch 3".
 * - A stage change is "grown", "shrunk" or "reshaped" by what its depth and side did.
 * - A speed-up is stored as ratio − 1 (the paper's +29.7%) and shown as the ratio: 1.30×.
 */

/** The word of a run's end: `cancelled` for a cancellation, else `failed`. */
export function endWord(reason: FailureReason): "cancelled" | "failed" {
  return reason === "cancelled" ? "cancelled" : "failed";
}

/** How a run ended, as a line: "cancelled: why" or "failed (reason): why". */
export function endLine(reason: FailureReason, message: string): string {
  return reason === "cancelled" ? `cancelled: ${message}` : `failed (${reason}): ${message}`;
}

export type ChangeWord = "grown" | "shrunk" | "reshaped" | "unchanged";

/** What a stage change did to the network: both dimensions up or equal, both down or equal, or a mix. */
export function changeWord(from: ArchitectureReport, to: ArchitectureReport): ChangeWord {
  const deltas = [to.depth - from.depth, to.side - from.side];
  if (deltas.every((d) => d === 0)) return "unchanged";
  if (deltas.every((d) => d >= 0)) return "grown";
  if (deltas.every((d) => d <= 0)) return "shrunk";
  return "reshaped";
}

/**
 * A pause, as a line: where training stopped ("paused in epoch 3, at step 120"), or "paused in
 * the queue" when no trainer had the run.
 */
export function pausedLine(epoch: number | null, step: number | null): string {
  return epoch === null || step === null
    ? "paused in the queue"
    : `paused in epoch ${epoch}, at step ${step}`;
}

/** A resume, as a line. */
export const RESUMED_LINE = "resumed: queued again, continues from its checkpoint";

/** The 0-based epoch a checkpoint covering `epochsCovered` epochs was taken after. */
export const lastEpochCovered = (epochsCovered: number): number => epochsCovered - 1;

/** Where a checkpoint (or a fork of one) stands: "after epoch 3" for 4 epochs covered, "before epoch 0" for none. */
export const afterEpochs = (epochsCovered: number): string =>
  epochsCovered === 0 ? "before epoch 0" : `after epoch ${lastEpochCovered(epochsCovered)}`;

/** "checkpoint after epoch 3" for a checkpoint covering 4 epochs. */
export const checkpointLine = (epochsCovered: number): string =>
  `checkpoint after epoch ${lastEpochCovered(epochsCovered)}`;

/** An epoch in progress with its place in the run: "epoch 3 (4 of 4)". */
export const epochOfRun = (epoch: number, epochs: number): string =>
  `epoch ${epoch} (${epoch + 1} of ${epochs})`;

/** The inclusive 0-based epoch range of a stage: "epochs 4–7". */
export const epochRange = (startEpoch: number, epochs: number): string =>
  epochs === 1 ? `epoch ${startEpoch}` : `epochs ${startEpoch}–${startEpoch + epochs - 1}`;

/** A stored speed-up (ratio − 1) as the ratio people read: 0.297 → "1.30×"; the baseline reads 1.00×. */
export function speedupRatio(stored: number | null | undefined): string {
  return stored === null || stored === undefined || !Number.isFinite(stored)
    ? "–"
    : `${(stored + 1).toFixed(2)}×`;
}
