import { rm } from "node:fs/promises";
import { join } from "node:path";
import { CHECKPOINTS_FOLDER, checkpointDataFile, checkpointMetaFile } from "../core/checkpoint-layout.ts";
import { readOptionalFile, writeFileAtomic } from "../data/files.ts";
import type { UploadedCheckpointStore } from "../services.ts";
import { packCheckpoint, unpackCheckpoint } from "./wire.ts";

/**
 * The Node checkpoint store: `<runs dir>/<run id>/checkpoints/epoch-NNNN.json` + `.bin`, the
 * layout the embedded trainer writes, so an uploaded checkpoint and an embedded one are the same
 * files (a run may move between the two, and the finished-run pruning covers both). Data first,
 * meta last, each through a temporary file and a rename: a meta file on disk means its data is whole.
 */
export function directoryCheckpointStore(runsDir: string): UploadedCheckpointStore {
  const folderOf = (runId: string) => join(runsDir, runId, CHECKPOINTS_FOLDER);
  return {
    async put(runId, epoch, body) {
      const { meta, data } = unpackCheckpoint(body);
      await writeFileAtomic(join(folderOf(runId), checkpointDataFile(epoch)), [data]);
      await writeFileAtomic(join(folderOf(runId), checkpointMetaFile(epoch)), [meta]);
    },
    async get(runId, epoch) {
      const meta = await readOptionalFile(join(folderOf(runId), checkpointMetaFile(epoch)));
      const data = meta && (await readOptionalFile(join(folderOf(runId), checkpointDataFile(epoch))));
      return meta && data ? packCheckpoint({ meta, data }) : null;
    },
    remove: (runId) => rm(folderOf(runId), { recursive: true, force: true }),
  };
}
