import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { PersistedStateSchema } from "../../src/train/checkpoint-meta.ts";
import {
  createModelState,
  disposeModelState,
  restoreModelState,
  saveModelState,
} from "../../src/train/state.ts";
import { TINY_CONFIG, useTestBackend } from "../helpers.ts";

beforeAll(useTestBackend);

const RUN = { arm: "original", seed: 3, specHash: "0123456789abcdef" };

/** Writes one checkpoint of a tiny model (epoch 1) and returns its folder and meta file. */
async function savedCheckpoint() {
  const directory = await mkdtemp(join(tmpdir(), "autoprog-meta-"));
  const state = createModelState(TINY_CONFIG, 2, 8, {
    seed: 3,
    ema: [{ name: "fast", horizon: 10 }],
    stageSteps: 100,
    weightDecay: 0.05,
  });
  Object.assign(state, { epoch: 1, step: 4, stage: 0, wallSeconds: 1.5, flopsSum: 1234 });
  const store = new DirectoryCheckpointStore(directory);
  await saveModelState(store, state, RUN);
  const persisted = PersistedStateSchema.parse(state);
  disposeModelState(state);
  return { store, persisted, metaPath: join(directory, "epoch-0001.json") };
}

async function rewriteMeta(path: string, change: (meta: Record<string, unknown>) => unknown) {
  const meta = JSON.parse(await readFile(path, "utf8"));
  await writeFile(path, JSON.stringify(change(meta)));
}

describe("checkpoint meta", () => {
  it("round-trips every persisted field of the model state", async () => {
    const before = tf.memory().numTensors;
    const { store, persisted } = await savedCheckpoint();
    const checkpoint = await store.loadLatest();
    expect(checkpoint?.meta).toMatchObject({ format: "autoprog-checkpoint/2", ...RUN });
    expect(Object.keys(checkpoint?.meta.emaDecays ?? {})).toEqual(["fast"]);
    if (!checkpoint) throw new Error("no checkpoint");
    const restored = restoreModelState(TINY_CONFIG, checkpoint, 0.05);
    expect(PersistedStateSchema.parse(restored)).toEqual(persisted);
    disposeModelState(restored);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ["a field of the wrong type", (m: Record<string, unknown>) => ({ ...m, step: "four" }), /\bstep: /],
    ["a missing field", ({ activeBlocks: _, ...m }: Record<string, unknown>) => m, /\bactiveBlocks: /],
    [
      "a nested field",
      (m: Record<string, unknown>) => ({ ...m, config: { ...(m.config as object), heads: -2 } }),
      /\bconfig\.heads: /,
    ],
    [
      "a tensor index entry",
      (m: Record<string, unknown>) => ({ ...m, index: [{ name: "x", shape: [2], offset: "0" }] }),
      /\bindex\.0\.offset: /,
    ],
    ["another format", (m: Record<string, unknown>) => ({ ...m, format: "autoprog-checkpoint/0" }), /format/],
    [
      "the previous format",
      (m: Record<string, unknown>) => ({ ...m, format: "autoprog-checkpoint/1" }),
      /older autoprog \(format \/1\) and cannot be resumed/,
    ],
  ])("refuses a meta with %s, naming it", async (_, change, message) => {
    const { store, metaPath } = await savedCheckpoint();
    await rewriteMeta(metaPath, change);
    await expect(store.loadLatest()).rejects.toThrow(message);
  });

  it("refuses a meta that is not JSON, naming the file", async () => {
    const { store, metaPath } = await savedCheckpoint();
    await writeFile(metaPath, "{ truncated");
    await expect(store.loadLatest()).rejects.toThrow(/epoch-0001\.json is not JSON/);
  });

  it("reads an older meta without cpuSeconds as zero CPU seconds", async () => {
    const { store, metaPath } = await savedCheckpoint();
    await rewriteMeta(metaPath, ({ cpuSeconds: _, ...m }) => m);
    expect((await store.loadLatest())?.meta.cpuSeconds).toBe(0);
  });
});
