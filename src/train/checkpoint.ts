import { createHash } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  checkpointDataFile,
  checkpointMetaFile,
  closesStage,
  parseCheckpointFile,
} from "../core/checkpoint-layout.ts";
import { readOptionalFile, readRequiredFile, writeFileAtomic } from "../data/files.ts";
import { decodeTensors, type HostTensor } from "../model/weights-io.ts";
import { type CheckpointMeta, parseCheckpointMeta } from "./checkpoint-meta.ts";

export type { CheckpointMeta };

/**
 * A checkpoint = weights + EMA copies + optimizer moments + JSON meta (checkpoint-meta.ts).
 * Written at the end of every epoch, and where a pause stops a run inside one; a run resumed from
 * it replays the rest exactly (all randomness derives from seed, epoch and step).
 */
export interface Checkpoint {
  readonly meta: CheckpointMeta;
  /** Names are grouped: `online/…`, `ema/<name>/…`, `adam.m/…`, `adam.v/…`. */
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

export interface CheckpointStore {
  /** Persists the checkpoint; returns where it went. */
  save(meta: CheckpointMeta, data: Uint8Array): Promise<string>;
  /** The newest checkpoint, its meta read through parseCheckpointMeta; null when there is none. */
  loadLatest(): Promise<Checkpoint | null>;
}

export function specHash(spec: unknown): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
}

/**
 * A run's checkpoints in one folder (src/core/checkpoint-layout.ts's files), keeping the newest
 * `keep` and those that close a stage.
 */
export class DirectoryCheckpointStore implements CheckpointStore {
  constructor(
    readonly directory: string,
    readonly keep = 2,
  ) {}

  async save(meta: CheckpointMeta, data: Uint8Array): Promise<string> {
    const metaPath = join(this.directory, checkpointMetaFile(meta.epoch));
    // A pause inside an epoch replaces the checkpoint of that epoch's start: its meta goes first,
    // so a crash in between leaves the older checkpoint, never a meta with another data file.
    await rm(metaPath, { force: true });
    // Data first, meta last: a meta file on disk means its data is complete.
    await writeFileAtomic(join(this.directory, checkpointDataFile(meta.epoch)), [data]);
    await writeFileAtomic(metaPath, [Buffer.from(JSON.stringify(meta))]);
    await this.prune();
    return metaPath;
  }

  async loadLatest(): Promise<Checkpoint | null> {
    const latest = (await this.epochsWithMeta()).at(-1);
    if (latest === undefined) return null;
    const metaPath = join(this.directory, checkpointMetaFile(latest));
    const metaText = await readOptionalFile(metaPath);
    if (!metaText) return null;
    const meta = parseCheckpointMeta(metaText.toString("utf8"), metaPath);
    const data = await readRequiredFile(join(this.directory, checkpointDataFile(latest)), "checkpoint data");
    return { meta, tensors: decodeTensors(meta.index, data) };
  }

  /** The epochs whose meta file is on disk, oldest first. */
  private async epochsWithMeta(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch {
      return [];
    }
    return names
      .map(parseCheckpointFile)
      .flatMap((file) => (file?.part === "meta" ? [file.epoch] : []))
      .sort((a, b) => a - b);
  }

  /** Keeps the newest `keep` and every one that closes a stage (a fork may start there). */
  private async prune(): Promise<void> {
    const epochs = await this.epochsWithMeta();
    for (const old of epochs.slice(0, Math.max(0, epochs.length - this.keep))) {
      const meta = await readOptionalFile(join(this.directory, checkpointMetaFile(old)));
      if (meta && closesStage(meta.toString("utf8"))) continue;
      await rm(join(this.directory, checkpointMetaFile(old)), { force: true });
      await rm(join(this.directory, checkpointDataFile(old)), { force: true });
    }
  }
}
