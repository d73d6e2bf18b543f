import { rm } from "node:fs/promises";
import { join } from "node:path";
import { readOptionalFile, writeFileAtomic } from "../data/files.ts";
import type { CheckpointStore } from "../services.ts";
import { checkpointStem, packCheckpoint, unpackCheckpoint } from "./wire.ts";

/**
 * The Node checkpoint store: `<runs dir>/<run id>/checkpoints/epoch-NNNN.json` + `.bin`, the
 * layout the embedded trainer writes, so an uploaded checkpoint and an embedded one are the same
 * files (a run may move between the two, and the finished-run pruning covers both). Data first,
 * meta last, each through a temporary file and a rename: a meta file on disk means its data is whole.
 */
export function directoryCheckpointStore(runsDir: string): CheckpointStore {
  const folderOf = (runId: string) => join(runsDir, runId, "checkpoints");
  const baseOf = (runId: string, epoch: number) => join(folderOf(runId), checkpointStem(epoch));
  return {
    async put(runId, epoch, body) {
      const { meta, data } = unpackCheckpoint(body);
      const base = baseOf(runId, epoch);
      await writeFileAtomic(`${base}.bin`, [data]);
      await writeFileAtomic(`${base}.json`, [meta]);
    },
    async get(runId, epoch) {
      const base = baseOf(runId, epoch);
      const meta = await readOptionalFile(`${base}.json`);
      const data = meta && (await readOptionalFile(`${base}.bin`));
      return meta && data ? packCheckpoint({ meta, data }) : null;
    },
    remove: (runId) => rm(folderOf(runId), { recursive: true, force: true }),
  };
}
