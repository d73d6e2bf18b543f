import { describe, expect, it } from "vitest";
import { type R2BucketLike, r2CheckpointStore } from "../../src/checkpoints/r2-store.ts";

/**
 * A bucket in memory that pages its listings two keys at a time, as R2 pages long ones; its
 * cursor is the last key listed, so deleting what was listed does not skip anything.
 */
function pagedBucket(): R2BucketLike & { readonly objects: Map<string, Uint8Array> } {
  const objects = new Map<string, Uint8Array>();
  return {
    objects,
    put: async (key, value) => {
      objects.set(key, value);
    },
    get: async (key) => {
      const value = objects.get(key);
      return value ? { arrayBuffer: async () => value.slice().buffer } : null;
    },
    list: async ({ prefix, cursor }) => {
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && (!cursor || k > cursor)).sort();
      const page = keys.slice(0, 2);
      const truncated = keys.length > 2;
      return {
        objects: page.map((key) => ({ key, size: objects.get(key)?.byteLength ?? 0 })),
        truncated,
        ...(truncated ? { cursor: page.at(-1) } : {}),
      };
    },
    delete: async (keys) => {
      for (const key of keys) objects.delete(key);
    },
  };
}

describe("the R2 checkpoint store", () => {
  it("lists a run's checkpoints by epoch across pages, with their sizes, and nothing of another run", async () => {
    const bucket = pagedBucket();
    const store = r2CheckpointStore(bucket);
    for (const epoch of [3, 1, 2]) await store.put("run_a", epoch, new Uint8Array(epoch * 10));
    await store.put("run_ab", 1, new Uint8Array(1));
    bucket.objects.set("runs/run_a/checkpoints/notes.txt", new Uint8Array(5));
    expect(await store.list("run_a")).toEqual([
      { epoch: 1, bytes: 10 },
      { epoch: 2, bytes: 20 },
      { epoch: 3, bytes: 30 },
    ]);
    await store.remove("run_a");
    expect(await store.list("run_a")).toEqual([]);
    expect(await store.list("run_ab")).toEqual([{ epoch: 1, bytes: 1 }]);
  });
});
