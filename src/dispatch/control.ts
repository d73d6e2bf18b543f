/** What routes need from whatever trains runs (the embedded dispatcher, or nothing on Workers). */
export interface RunControl {
  /** New runs were queued. */
  wake(): void;
  /** The run was flagged for cancellation: stop its trainer, or end it if it has none. */
  cancel(runId: string): Promise<void>;
  /** The run was flagged for a pause: tell its trainer here, if this process trains it. */
  pause(runId: string): void;
}
