import type { TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import type { CheckpointStore } from "./checkpoint.ts";
import type { StepProgress } from "./epoch.ts";

/** How a caller (CLI, trainer process, test) runs one arm of a spec with one seed. */
export interface RunOptions {
  /** Which arm of the spec to run, by label (default: the first). */
  readonly arm?: string;
  /** Which seed (default: the spec's first). */
  readonly seed?: number;
  readonly onEvent?: (event: TrainingEvent) => void;
  /** Called after every step (progress bars); not part of the persisted event stream. */
  readonly onProgress?: (progress: StepProgress) => void;
  /** Checked between steps; an aborted run fails with reason "cancelled". */
  readonly signal?: AbortSignal;
  /**
   * Awaited before every step. A trainer in a child process yields to its event loop here, so a
   * cancel or a stop sent to it lands at the next step boundary (the step loop itself only
   * awaits microtasks on the cpu and wasm backends).
   */
  readonly betweenSteps?: () => Promise<void>;
  /**
   * Once aborted, the run stops at its next step boundary with a checkpoint written there (the
   * epoch's position and running sums included) and runTraining throws TrainingPaused; a run
   * opened on that checkpoint continues exactly as if it had not stopped. An epoch that trains
   * a supernet or measures search candidates is not cut: the pause then lands at its end.
   */
  readonly pause?: AbortSignal;
  /** Where epoch checkpoints go and where a resume looks; null = none. */
  readonly checkpoints?: CheckpointStore | null;
  /** Overrides the spec's backend preference (CLI --backend, AUTOPROG_BACKEND). */
  readonly backend?: ExperimentSpec["backend"];
  /** Where decoded dataset caches go. */
  readonly cacheDir?: string;
  /**
   * Threads that share each step (data parallel); default AUTOPROG_WORKERS or 1. Results are
   * deterministic for a given count but not bit-identical across counts.
   */
  readonly workers?: number;
  /** Save the final model (the best of the online weights and the EMAs) to `<path>.json/.bin`. */
  readonly modelPath?: string;
  /**
   * Fail the run with `out_of_memory` when its tensors pass this many bytes; default: twice the
   * run's estimate (src/core/run-cost.ts) plus 256 MB (src/train/memory-guard.ts).
   */
  readonly memoryLimitBytes?: number;
}
