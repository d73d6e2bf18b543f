import { checkpointObjectKey, runCheckpointsPath } from "../core/checkpoint-layout.ts";
import type { UploadedCheckpointStore } from "../services.ts";

/**
 * The part of a Cloudflare R2 binding (or any S3-like bucket with the same calls) the store
 * uses, typed here so the Workers entry needs no extra dependency.
 */
export interface R2BucketLike {
  put(key: string, value: Uint8Array): Promise<unknown>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
  list(options: { prefix: string; cursor?: string }): Promise<{
    objects: { key: string; size: number }[];
    truncated: boolean;
    cursor?: string;
  }>;
  delete(keys: string[]): Promise<void>;
}

/** Checkpoints as one object per run and epoch: `runs/<run id>/checkpoints/epoch-NNNN.apc`. */
export function r2CheckpointStore(bucket: R2BucketLike): UploadedCheckpointStore {
  const prefixOf = (runId: string) => `${runCheckpointsPath(runId)}/`;
  const keyOf = checkpointObjectKey;
  return {
    async put(runId, epoch, body) {
      // An R2 put is atomic: readers see the old object or the whole new one.
      await bucket.put(keyOf(runId, epoch), body);
    },
    async get(runId, epoch) {
      const object = await bucket.get(keyOf(runId, epoch));
      return object ? new Uint8Array(await object.arrayBuffer()) : null;
    },
    async list(runId) {
      const listed = [];
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix: prefixOf(runId), ...(cursor ? { cursor } : {}) });
        for (const object of page.objects) {
          const epoch = Number(/epoch-(\d+)\.apc$/.exec(object.key)?.[1] ?? Number.NaN);
          if (keyOf(runId, epoch) === object.key) listed.push({ epoch, bytes: object.size });
        }
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return listed.sort((a, b) => a.epoch - b.epoch);
    },
    async remove(runId) {
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix: prefixOf(runId), ...(cursor ? { cursor } : {}) });
        if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    },
  };
}
