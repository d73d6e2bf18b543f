import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directoryCheckpointStore } from "../../src/checkpoints/directory-store.ts";
import { runCheckpointsPath } from "../../src/core/checkpoint-layout.ts";
import { parseSpec } from "../../src/core/spec.ts";
import { initWeights } from "../../src/model/params.ts";
import { takeGroup } from "../../src/model/weights-io.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import type { CheckpointMeta } from "../../src/train/checkpoint-meta.ts";
import { initialWeightsOf } from "../../src/train/init-weights.ts";
import { runTraining } from "../../src/train/run.ts";
import { openRun } from "../../src/train/run-context.ts";
import { disposeModelState } from "../../src/train/state.ts";
import { expectProblem, read, type TestApp, testApp, tinySpec } from "./helpers.ts";

/**
 * Issue 25, part 4: a spec's `init: {fromRun, weights}` starts each run from another run's trained
 * weights. The source trains one real epoch; the new experiment's run is opened by the trainer
 * from the checkpoint the API copied for it and must hold the source's EMA weights.
 */

let t: TestApp;
let dir: string;
let sourceId: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprog-init-"));
  t = testApp({ workers: { checkpoints: directoryCheckpointStore(join(dir, "runs")) } });
  const source = tinySpec({ name: "source", training: { ...tinySpec().training, epochs: 1 } });
  const created = await read<{ runs: { id: string }[] }>(t.post("/v1/experiments", source));
  sourceId = created.runs[0]?.id as string;
  await runTraining(parseSpec(source), {
    checkpoints: new DirectoryCheckpointStore(join(dir, runCheckpointsPath(sourceId))),
  });
}, 120_000);

afterAll(async () => {
  t.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a spec's init", () => {
  it("starts each run from the source run's weights, copied as its epoch-0 checkpoint", async () => {
    const input = tinySpec({ name: "fine-tune", init: { fromRun: sourceId, weights: "ema-slow" } });
    const created = await read<{ id: string; runs: { id: string; checkpointEpoch: number | null }[] }>(
      t.post("/v1/experiments", input),
    );
    const run = created.runs[0];
    expect(run?.checkpointEpoch).toBe(0);
    const folder = join(dir, runCheckpointsPath(run?.id as string));
    const meta = JSON.parse(await readFile(join(folder, "epoch-0000.json"), "utf8")) as CheckpointMeta;
    expect(meta).toMatchObject({ specHash: "init:ema-slow", epoch: 0 });
    const report = await read<{ initFrom: unknown }>(t.app.request(`/v1/experiments/${created.id}/report`));
    expect(report.initFrom).toEqual({ runId: sourceId, weights: "ema-slow" });

    const source = await new DirectoryCheckpointStore(join(dir, runCheckpointsPath(sourceId))).loadLatest();
    const opened = await openRun(parseSpec(input), { checkpoints: new DirectoryCheckpointStore(folder) });
    try {
      // A fresh run (epoch 0, its own optimizer) whose weights are the source's slow EMA.
      expect(opened.state.epoch).toBe(0);
      const expected = takeGroup(source?.tensors ?? new Map(), "ema/slow");
      expect(opened.state.weights.size).toBe(expected.size);
      for (const [name, tensor] of expected) {
        expect(
          Buffer.from((await opened.state.weights.get(name)?.data()) as Float32Array).equals(
            Buffer.from(tensor.values),
          ),
          name,
        ).toBe(true);
      }
    } finally {
      disposeModelState(opened.state);
      await opened.pool?.close();
      opened.compiled?.dispose();
    }
  });

  it("refuses a run it cannot start from, naming the field", async () => {
    const bad = async (init: unknown, path: string) => {
      const body = await expectProblem(
        await t.post("/v1/experiments", tinySpec({ init })),
        422,
        "validation_failed",
      );
      expect(body.errors).toMatchObject([{ location: "body", path }]);
    };
    await bad({ fromRun: "run_nope" }, "init.fromRun");
    await bad({ fromRun: sourceId, weights: "ema-nope" }, "init.weights");
    await bad({ fromRun: sourceId, weights: "best" }, "init.weights");
    const wider = tinySpec({ model: { ...tinySpec().model, width: 64 }, init: { fromRun: sourceId } });
    const body = await expectProblem(await t.post("/v1/experiments", wider), 422, "validation_failed");
    expect(body.errors).toMatchObject([
      { path: "init.fromRun", message: expect.stringContaining("width (32, here 64)") },
    ]);
  });
});

describe("initialWeightsOf", () => {
  it("folds each block's ReZero scalar into its outputs and keeps a head of another class count fresh", () => {
    const config = {
      imageSize: 4,
      patchSize: 2,
      channels: 1,
      width: 2,
      depth: 1,
      heads: 1,
      mlpRatio: 1,
      numClasses: 3,
    };
    const tensors = new Map([
      ["online/blocks.1.mlp.fc2.b", { shape: [2], values: Float32Array.of(1, 2) }],
      ["online/blocks.1.mlp.fc1.b", { shape: [2], values: Float32Array.of(1, 2) }],
      ["online/blocks.1.rezero", { shape: [], values: Float32Array.of(0.5) }],
      ["online/blocks.0.mlp.fc2.b", { shape: [2], values: Float32Array.of(9, 9) }],
      ["online/head.b", { shape: [3], values: Float32Array.of(7, 7, 7) }],
    ]);
    const checkpoint = {
      meta: { config, activeBlocks: [false, true] } as unknown as CheckpointMeta,
      tensors,
    };
    const initial = initialWeightsOf(checkpoint, "online", { ...config, numClasses: 5 });
    expect([...(initial.get("blocks.0.mlp.fc2.b")?.values ?? [])]).toEqual([0.5, 1]);
    expect([...(initial.get("blocks.0.mlp.fc1.b")?.values ?? [])]).toEqual([1, 2]);
    expect(initial.has("blocks.0.rezero")).toBe(false);
    const weights = initWeights({ ...config, numClasses: 5 }, 1, 0, initial);
    expect(weights.get("head.b")?.shape).toEqual([5]);
    expect([...(weights.get("head.b")?.dataSync() ?? [])]).toEqual([0, 0, 0, 0, 0]);
    for (const w of weights.values()) w.dispose();
    expect(() => initialWeightsOf(checkpoint, "online", { ...config, width: 4 })).toThrow(
      "width (2, here 4)",
    );
  });
});
