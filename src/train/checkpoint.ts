import { createHash } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { readOptionalFile, readRequiredFile, writeFileAtomic } from "../data/files.ts";
import { decodeTensors, type HostTensor } from "../model/weights-io.ts";
import { type CheckpointMeta, parseCheckpointMeta } from "./checkpoint-meta.ts";

export type { CheckpointMeta };

/**
 * A checkpoint = weights + EMA copies + optimizer moments + JSON meta (checkpoint-meta.ts).
 * Written at the end of every epoch; a run resumed from it replays the remaining epochs exactly
 * (all randomness derives from seed, epoch and step).
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

/** Checkpoints as `epoch-NNNN.bin` + `epoch-NNNN.json` in one folder, keeping the newest `keep`. */
export class DirectoryCheckpointStore implements CheckpointStore {
  constructor(
    readonly directory: string,
    readonly keep = 2,
  ) {}

  async save(meta: CheckpointMeta, data: Uint8Array): Promise<string> {
    const base = join(this.directory, `epoch-${String(meta.epoch).padStart(4, "0")}`);
    // Data first, meta last: a meta file on disk means its data is complete.
    await writeFileAtomic(`${base}.bin`, [data]);
    await writeFileAtomic(`${base}.json`, [Buffer.from(JSON.stringify(meta))]);
    await this.prune();
    return `${base}.json`;
  }

  async loadLatest(): Promise<Checkpoint | null> {
    const metas = await this.metaFiles();
    const latest = metas.at(-1);
    if (!latest) return null;
    const metaPath = join(this.directory, latest);
    const metaText = await readOptionalFile(metaPath);
    if (!metaText) return null;
    const meta = parseCheckpointMeta(metaText.toString("utf8"), metaPath);
    const data = await readRequiredFile(
      join(this.directory, latest.replace(/\.json$/, ".bin")),
      "checkpoint data",
    );
    return { meta, tensors: decodeTensors(meta.index, data) };
  }

  private async metaFiles(): Promise<string[]> {
    try {
      return (await readdir(this.directory)).filter((f) => /^epoch-\d+\.json$/.test(f)).sort();
    } catch {
      return [];
    }
  }

  private async prune(): Promise<void> {
    const metas = await this.metaFiles();
    for (const old of metas.slice(0, Math.max(0, metas.length - this.keep))) {
      await rm(join(this.directory, old), { force: true });
      await rm(join(this.directory, old.replace(/\.json$/, ".bin")), { force: true });
    }
  }
}
