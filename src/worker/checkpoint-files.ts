import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  CHECKPOINTS_FOLDER,
  checkpointMetaFile,
  closesStage,
  parseCheckpointFile,
} from "../core/checkpoint-layout.ts";

/**
 * Housekeeping of the files the trainer writes under the data folder (their names:
 * src/core/checkpoint-layout.ts); atomic writes go through `<file>.<pid>.<random>.tmp`
 * (src/data/files.ts).
 */
const TEMPORARY = /\.(\d+)\.[0-9a-f]+\.tmp$/;

async function entries(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch {
    return [];
  }
}

/** Checkpoint files by the epochs they cover, oldest first. */
async function checkpointsIn(directory: string): Promise<{ epoch: number; files: string[] }[]> {
  const byEpoch = new Map<number, string[]>();
  for (const name of await entries(directory)) {
    const file = parseCheckpointFile(name);
    if (file) byEpoch.set(file.epoch, [...(byEpoch.get(file.epoch) ?? []), name]);
  }
  return [...byEpoch.entries()].sort(([a], [b]) => a - b).map(([epoch, files]) => ({ epoch, files }));
}

/** Removes checkpoints past `epoch` (all of them when null): the log never recorded them. */
export async function discardCheckpointsAfter(directory: string, epoch: number | null): Promise<void> {
  for (const checkpoint of await checkpointsIn(directory)) {
    if (epoch === null || checkpoint.epoch > epoch) {
      for (const file of checkpoint.files) await rm(join(directory, file), { force: true });
    }
  }
}

/**
 * Keeps the newest `keep` checkpoints of a finished run (0 removes them all) and, with
 * `stageStarts`, every one that closes a stage (forks start from them).
 */
export async function keepNewestCheckpoints(
  directory: string,
  keep: number,
  stageStarts = false,
): Promise<void> {
  const all = await checkpointsIn(directory);
  for (const checkpoint of all.slice(0, Math.max(0, all.length - keep))) {
    if (stageStarts) {
      const meta = await readFile(join(directory, checkpointMetaFile(checkpoint.epoch)), "utf8").catch(
        () => "",
      );
      if (closesStage(meta)) continue;
    }
    for (const file of checkpoint.files) await rm(join(directory, file), { force: true });
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Deletes the temporaries of writes that never finished (a kill during a checkpoint write)
 * under the runs folder. A temporary whose writer is still alive (another server on the same
 * data folder) is left alone.
 */
export async function removeStaleTemporaries(runsDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const run of await entries(runsDir)) {
    const directory = join(runsDir, run, CHECKPOINTS_FOLDER);
    for (const name of await entries(directory)) {
      const match = TEMPORARY.exec(name);
      if (match && !alive(Number(match[1]))) {
        await rm(join(directory, name), { force: true });
        removed.push(join(directory, name));
      }
    }
  }
  return removed;
}
