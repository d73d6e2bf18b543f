import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directoryCheckpointStore } from "../../src/checkpoints/directory-store.ts";
import { checkpointToSafetensors } from "../../src/checkpoints/model-export.ts";
import { packCheckpoint } from "../../src/checkpoints/wire.ts";
import {
  checkpointDataFile,
  checkpointMetaFile,
  runCheckpointsPath,
} from "../../src/core/checkpoint-layout.ts";
import { loadDataset } from "../../src/data/dataset.ts";
import { encodeSafetensors } from "../../src/kit/safetensors.ts";
import { paramSpecs } from "../../src/model/params.ts";
import { type HostTensor, takeGroup } from "../../src/model/weights-io.ts";
import { disposeBatchTensors } from "../../src/train/batch-tensors.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { evaluationBatch, evaluationLogits } from "../../src/train/evaluate.ts";
import { runTraining } from "../../src/train/run.ts";
import { tinyMnistSpec } from "../train/helpers.ts";
import { expectProblem, read, type TestApp, testApp, tinySpec } from "./helpers.ts";

/**
 * Issue 25, part 2: a trained run's weights as safetensors. A real run trains one epoch into the
 * folder the API's checkpoint store reads; the downloaded file is checked against the format's
 * rules by a reader written here, its tensors against the checkpoint, and its logits — in
 * TypeScript and in Python (examples/python/vit_logits.py) — against the evaluation path's.
 */

interface SafetensorsEntry {
  readonly dtype: string;
  readonly shape: number[];
  readonly data_offsets: [number, number];
}

/** An independent reader that enforces the format's header rules; returns tensors and metadata. */
function readSafetensors(file: Uint8Array) {
  expect(file.byteLength).toBeGreaterThanOrEqual(8);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  expect(8 + headerLength).toBeLessThanOrEqual(file.byteLength);
  // The data starts 8-byte aligned (what the reference writer does).
  expect((8 + headerLength) % 8).toBe(0);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(file.subarray(8, 8 + headerLength));
  expect(text.startsWith("{")).toBe(true);
  // Only spaces may pad the JSON.
  expect(text.slice(text.lastIndexOf("}") + 1)).toMatch(/^ *$/);
  const header = JSON.parse(text) as Record<string, unknown>;
  const { __metadata__: metadata = {}, ...entries } = header as { __metadata__?: Record<string, unknown> };
  for (const value of Object.values(metadata)) expect(typeof value).toBe("string");
  const data = file.subarray(8 + headerLength);
  const sorted = Object.entries(entries as Record<string, SafetensorsEntry>).sort(
    ([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0],
  );
  let end = 0;
  const tensors = new Map<string, HostTensor>();
  for (const [name, entry] of sorted) {
    expect(entry.dtype, name).toBe("F32");
    expect(
      entry.shape.every((d) => Number.isInteger(d) && d >= 0),
      name,
    ).toBe(true);
    const [begin, stop] = entry.data_offsets;
    // Contiguous: each tensor starts where the previous ended, so nothing overlaps and no byte is unused.
    expect(begin, name).toBe(end);
    expect(stop - begin, name).toBe(entry.shape.reduce((a, b) => a * b, 1) * 4);
    end = stop;
    const values = new Float32Array(data.slice(begin, stop).buffer);
    tensors.set(name, { shape: entry.shape, values });
  }
  expect(end).toBe(data.byteLength);
  return { tensors, metadata: metadata as Record<string, string> };
}

const python = (code: string) => spawnSync("python3", ["-c", code], { encoding: "utf8" }).status === 0;
const HAS_NUMPY = python("import numpy");
const HAS_SAFETENSORS = HAS_NUMPY && python("import safetensors, numpy");

let t: TestApp;
let dir: string;
let runId: string;
let idleRunId: string;
let checkpoints: DirectoryCheckpointStore;
const spec = tinyMnistSpec({ training: { epochs: 1 } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprog-model-"));
  t = testApp({ workers: { checkpoints: directoryCheckpointStore(join(dir, "runs")) } });
  const experiment = await read<{ runs: { id: string }[] }>(t.post("/v1/experiments", tinySpec()));
  runId = experiment.runs[0]?.id as string;
  idleRunId = (await read<{ runs: { id: string }[] }>(t.post("/v1/experiments", tinySpec({ name: "idle" }))))
    .runs[0]?.id as string;
  // The embedded trainer's layout, which the API's store reads (src/core/checkpoint-layout.ts).
  checkpoints = new DirectoryCheckpointStore(join(dir, runCheckpointsPath(runId)));
  await runTraining(spec, { checkpoints });
}, 120_000);

afterAll(async () => {
  t.close();
  await rm(dir, { recursive: true, force: true });
});

async function download(query = ""): Promise<Uint8Array> {
  const response = await t.app.request(`/v1/runs/${runId}/model${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

/** Logits of test image 0 through the evaluation path, with `weights` as the model. */
async function evaluationLogitsOf(weights: ReadonlyMap<string, HostTensor>, depth: number) {
  const config = (await checkpoints.loadLatest())?.meta.config;
  if (!config) throw new Error("no checkpoint");
  const test = await loadDataset("mnist", "test", { limit: 1 });
  const batch = evaluationBatch(config, test, Int32Array.of(0), config.imageSize);
  const variables = new Map([...weights].map(([name, w]) => [name, tf.tensor(w.values, [...w.shape])]));
  const logits = evaluationLogits(config, variables, batch, {
    side: config.imageSize,
    activeBlocks: Array.from({ length: depth }, () => true),
  });
  const result = { logits: Array.from(await logits.data()), x: await batch.x.data(), shape: batch.x.shape };
  logits.dispose();
  disposeBatchTensors(batch);
  for (const v of variables.values()) v.dispose();
  return result;
}

describe("GET /v1/runs/{id}/model", () => {
  it("is a valid safetensors file of the online weights, named as docs/model-files.md says", async () => {
    const response = await t.app.request(`/v1/runs/${runId}/model`);
    expect(response.headers.get("content-disposition")).toBe(
      `attachment; filename="${runId}-online-epoch-1.safetensors"`,
    );
    const { tensors, metadata } = readSafetensors(new Uint8Array(await response.arrayBuffer()));
    const checkpoint = await checkpoints.loadLatest();
    if (!checkpoint) throw new Error("no checkpoint");
    const { config } = checkpoint.meta;
    expect(JSON.parse(metadata.architecture ?? "")).toEqual(config);
    expect(metadata).toMatchObject({
      format: "autoprog-vit-safetensors/1",
      weights: "online",
      input_side: "28",
      input_layout: "NHWC",
      dataset: "mnist",
      run: runId,
      epoch: "1",
      arm: "original",
    });
    expect([...tensors.keys()].sort()).toEqual(
      paramSpecs(config, config.depth)
        .map((s) => s.name)
        .sort(),
    );
    for (const [name, tensor] of takeGroup(checkpoint.tensors, "online")) {
      expect(tensors.get(name)?.shape, name).toEqual(tensor.shape);
      expect(tensors.get(name)?.values, name).toEqual(tensor.values);
    }
  });

  it("serves each EMA copy, and refuses one the run does not hold with a problem naming `weights`", async () => {
    const checkpoint = await checkpoints.loadLatest();
    const slow = readSafetensors(await download("?weights=ema-slow"));
    expect(slow.metadata.weights).toBe("ema-slow");
    const stored = takeGroup(checkpoint?.tensors ?? new Map(), "ema/slow");
    expect(stored.size).toBeGreaterThan(0);
    for (const [name, tensor] of stored) expect(slow.tensors.get(name)?.values, name).toEqual(tensor.values);
    const unknown = await expectProblem(
      await t.app.request(`/v1/runs/${runId}/model?weights=ema-nope`),
      422,
      "validation_failed",
    );
    expect(unknown.errors).toEqual([
      {
        location: "query",
        path: "weights",
        message: "this run has no ema-nope weights; it has online, ema-fast, ema-slow",
      },
    ]);
    const malformed = await expectProblem(
      await t.app.request(`/v1/runs/${runId}/model?weights=best`),
      422,
      "validation_failed",
    );
    expect(malformed.errors).toMatchObject([{ location: "query", path: "weights" }]);
  });

  it("answers 404 for a run without checkpoints, an epoch it does not hold, and another project's run", async () => {
    await expectProblem(await t.app.request(`/v1/runs/${idleRunId}/model`), 404, "not_found");
    await expectProblem(await t.app.request(`/v1/runs/${runId}/model?epoch=7`), 404, "not_found");
    const other = await t.keyFor("elsewhere", "member");
    await expectProblem(
      await t.app.request(`/v1/runs/${runId}/model`, { headers: other.headers }),
      404,
      "not_found",
    );
  });

  it("gives the evaluation's logits in TypeScript", async () => {
    const checkpoint = await checkpoints.loadLatest();
    if (!checkpoint) throw new Error("no checkpoint");
    const { tensors } = readSafetensors(await download());
    const fromFile = await evaluationLogitsOf(tensors, checkpoint.meta.depth);
    const fromCheckpoint = await evaluationLogitsOf(
      takeGroup(checkpoint.tensors, "online"),
      checkpoint.meta.depth,
    );
    expect(fromFile.logits).toEqual(fromCheckpoint.logits);
  });

  describe.each([
    {
      reader: "safetensors",
      available: HAS_SAFETENSORS,
      missing: "python3 cannot import safetensors and numpy",
    },
    { reader: "numpy", available: HAS_NUMPY, missing: "python3 cannot import numpy" },
  ])("examples/python/vit_logits.py --reader $reader", ({ reader, available, missing }) => {
    it.skipIf(!available)(
      `gives the evaluation's logits to 1e-5${available ? "" : ` (skipped: ${missing})`}`,
      async () => {
        const checkpoint = await checkpoints.loadLatest();
        if (!checkpoint) throw new Error("no checkpoint");
        const ours = await evaluationLogitsOf(takeGroup(checkpoint.tensors, "online"), checkpoint.meta.depth);
        const modelFile = join(dir, "model.safetensors");
        const inputFile = join(dir, "input.safetensors");
        await writeFile(modelFile, await download());
        const x = new Uint8Array(ours.x.buffer, ours.x.byteOffset, ours.x.byteLength);
        await writeFile(
          inputFile,
          encodeSafetensors([{ name: "x", dtype: "F32", shape: ours.shape, bytes: x }]),
        );
        const run = spawnSync(
          "python3",
          ["examples/python/vit_logits.py", modelFile, inputFile, "--reader", reader],
          { encoding: "utf8" },
        );
        expect(run.status, run.stderr).toBe(0);
        const answer = JSON.parse(run.stdout) as { reader: string; logits: number[][] };
        expect(answer.reader).toBe(reader);
        const theirs = answer.logits[0] ?? [];
        expect(theirs).toHaveLength(ours.logits.length);
        const worst = Math.max(...theirs.map((value, i) => Math.abs(value - (ours.logits[i] ?? Number.NaN))));
        expect(worst).toBeLessThanOrEqual(1e-5);
      },
    );
  });
});

describe("a run's checkpoints, for members", () => {
  it("are listed and downloadable packed", async () => {
    const list = await read<{ items: { epoch: number; bytes: number; url: string; modelUrl: string }[] }>(
      t.app.request(`/v1/runs/${runId}/checkpoints`),
    );
    const folder = join(dir, runCheckpointsPath(runId));
    const [meta, data] = [
      await readFile(join(folder, checkpointMetaFile(1))),
      await readFile(join(folder, checkpointDataFile(1))),
    ];
    expect(list.items).toEqual([
      {
        epoch: 1,
        bytes: meta.byteLength + data.byteLength,
        url: `/v1/runs/${runId}/checkpoints/1`,
        modelUrl: `/v1/runs/${runId}/model?epoch=1`,
      },
    ]);
    const packed = await t.app.request(list.items[0]?.url as string);
    expect(packed.status).toBe(200);
    // Compared as buffers: toEqual walks a typed array element by element.
    expect(Buffer.from(await packed.arrayBuffer()).equals(Buffer.from(packCheckpoint({ meta, data })))).toBe(
      true,
    );
    expect((await t.app.request(list.items[0]?.modelUrl as string)).status).toBe(200);
    expect(await read(t.app.request(`/v1/runs/${idleRunId}/checkpoints`))).toEqual({ items: [] });
  });
});

describe("checkpointToSafetensors", () => {
  it("keeps only the active blocks, numbered from 0, with their ReZero scalars", () => {
    const names = ["blocks.0.mlp.fc2.b", "blocks.1.mlp.fc2.b", "blocks.2.mlp.fc2.b", "blocks.2.rezero"];
    const index = names.map((name, i) => ({
      name: `online/${name}`,
      shape: name.endsWith("rezero") ? [] : [1],
      offset: i,
    }));
    const meta = {
      config: {
        imageSize: 4,
        patchSize: 2,
        channels: 1,
        width: 1,
        depth: 3,
        heads: 1,
        mlpRatio: 1,
        numClasses: 1,
      },
      activeBlocks: [true, false, true],
      side: 4,
      epoch: 2,
      step: 8,
      arm: "autoprog",
      seed: 1,
      emaDecays: {},
      index,
    };
    const file = checkpointToSafetensors(
      {
        meta: new TextEncoder().encode(JSON.stringify(meta)),
        data: new Uint8Array(Float32Array.of(0, 1, 2, 3).buffer),
      },
      { runId: "run_x", weights: "online", dataset: "mnist" },
    );
    const { tensors, metadata } = readSafetensors(file);
    expect(Object.fromEntries([...tensors].map(([name, tensor]) => [name, [...tensor.values]]))).toEqual({
      "blocks.0.mlp.fc2.b": [0],
      "blocks.1.mlp.fc2.b": [2],
      "blocks.1.rezero": [3],
    });
    expect(tensors.get("blocks.1.rezero")?.shape).toEqual([]);
    expect(JSON.parse(metadata.architecture ?? "").depth).toBe(2);
  });
});
