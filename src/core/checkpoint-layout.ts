/**
 * Where a run's checkpoints are and what their files are called: the one statement of the layout
 * that the trainer, the pull worker, the API's checkpoint stores and the housekeeping share.
 *
 *   <data folder>/runs/<run id>/checkpoints/epoch-NNNN.bin   tensor data, written first
 *                                           epoch-NNNN.json  meta, written last: its presence means the data is whole
 *   R2 bucket:    runs/<run id>/checkpoints/epoch-NNNN.apc   one packed body (src/checkpoints/wire.ts)
 *
 * A pull worker keeps the same two files in `<its scratch folder>/checkpoints/`. Paths here are
 * relative and joined with `/`; Node callers put them under their folders.
 */

/** The runs' folders under the data folder. */
export const RUNS_FOLDER = "runs";

/** A run's checkpoint folder under its own folder. */
export const CHECKPOINTS_FOLDER = "checkpoints";

/** `runs/<run id>/checkpoints`: under the data folder on Node, the key prefix in a bucket. */
export const runCheckpointsPath = (runId: string): string => `${RUNS_FOLDER}/${runId}/${CHECKPOINTS_FOLDER}`;

/** `epoch-NNNN`: the name an epoch's checkpoint files share (zero-padded, so names sort as epochs do). */
export const checkpointStem = (epoch: number): string => `epoch-${String(epoch).padStart(4, "0")}`;

/** The meta file of an epoch's checkpoint (JSON). */
export const checkpointMetaFile = (epoch: number): string => `${checkpointStem(epoch)}.json`;

/** The tensor data file of an epoch's checkpoint. */
export const checkpointDataFile = (epoch: number): string => `${checkpointStem(epoch)}.bin`;

/** The bucket key of an epoch's packed checkpoint. */
export const checkpointObjectKey = (runId: string, epoch: number): string =>
  `${runCheckpointsPath(runId)}/${checkpointStem(epoch)}.apc`;

const CHECKPOINT_FILE = /^epoch-(\d+)\.(json|bin)$/;

/** The epoch and part of a checkpoint file's name; null for any other file. */
export function parseCheckpointFile(name: string): { epoch: number; part: "meta" | "data" } | null {
  const match = CHECKPOINT_FILE.exec(name);
  return match ? { epoch: Number(match[1]), part: match[2] === "json" ? "meta" : "data" } : null;
}

/**
 * The `specHash` of a checkpoint copied into a fork's folder (`POST /v1/runs/{id}/fork`): the
 * fork's trainer adopts it as its starting point although another spec wrote it (the route has
 * checked the architecture and dataset match); every checkpoint the fork saves carries its own hash.
 */
export const FORK_START_SPEC_HASH = "fork-start";

/**
 * Whether a checkpoint's meta (its JSON text) closes a stage: its epoch is where its last stage
 * record ends, so the next stage starts from it. Such checkpoints are kept past the newest few
 * (a fork starts from one: `POST /v1/runs/{id}/fork` with `fromStage`). Anything unreadable is not.
 */
export function closesStage(metaText: string): boolean {
  let meta: unknown;
  try {
    meta = JSON.parse(metaText);
  } catch {
    return false;
  }
  const { epoch, stages } = (meta ?? {}) as { epoch?: unknown; stages?: unknown };
  const last = Array.isArray(stages) ? (stages.at(-1) as { startEpoch?: unknown; epochs?: unknown }) : null;
  return (
    typeof epoch === "number" &&
    typeof last?.startEpoch === "number" &&
    typeof last.epochs === "number" &&
    last.startEpoch + last.epochs === epoch
  );
}

/**
 * The `specHash` prefix of a checkpoint copied into a new run's folder as epoch 0 for a spec's
 * `init` (`init:online`, `init:ema-slow`): the trainer starts the run fresh but takes that weight
 * set of the checkpoint as its initial weights (src/train/init-weights.ts).
 */
export const INIT_SPEC_HASH_PREFIX = "init:";
