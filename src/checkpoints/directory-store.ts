import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  CHECKPOINTS_FOLDER,
  checkpointDataFile,
  checkpointMetaFile,
  parseCheckpointFile,
} from "../core/checkpoint-layout.ts";
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
    async list(runId) {
      let names: string[];
      try {
        names = await readdir(folderOf(runId));
      } catch {
        return [];
      }
      const epochs = names.flatMap((name) => {
        const file = parseCheckpointFile(name);
        // The meta file is written last: only an epoch with one is whole.
        return file?.part === "meta" ? [file.epoch] : [];
      });
      const sizeOf = async (file: string) =>
        (await stat(join(folderOf(runId), file)).catch(() => null))?.size;
      const listed = [];
      for (const epoch of epochs.sort((a, b) => a - b)) {
        const [meta, data] = [
          await sizeOf(checkpointMetaFile(epoch)),
          await sizeOf(checkpointDataFile(epoch)),
        ];
        // Pruned between the listing and now: not there any more.
        if (meta !== undefined && data !== undefined) listed.push({ epoch, bytes: meta + data });
      }
      return listed;
    },
    remove: (runId) => rm(folderOf(runId), { recursive: true, force: true }),
  };
}
