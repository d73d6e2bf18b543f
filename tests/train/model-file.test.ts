import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { disposeWeights, initWeights } from "../../src/model/params.ts";
import { forward, fullMask } from "../../src/model/vit.ts";
import { loadModel, saveModel } from "../../src/train/model-file.ts";
import { randomImages, TINY_CONFIG, useTestBackend, values } from "../helpers.ts";

beforeAll(useTestBackend);

/** A saved 2-block model: its path and its parsed meta, for tests that rewrite the meta. */
async function savedTwoBlockModel() {
  const path = join(await mkdtemp(join(tmpdir(), "autoprog-model-")), "vit");
  const weights = initWeights(TINY_CONFIG, 2, 17);
  await saveModel(path, TINY_CONFIG, 2, weights);
  disposeWeights(weights);
  return { path, meta: JSON.parse(await readFile(`${path}.json`, "utf8")) };
}

describe("model files", () => {
  it("save and load a model with its architecture, bit-exactly", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "autoprog-model-")), "vit");
    const weights = initWeights(TINY_CONFIG, 3, 17);
    await saveModel(path, TINY_CONFIG, 3, weights);
    const loaded = await loadModel(path);
    expect(loaded.config).toEqual(TINY_CONFIG);
    expect(loaded.depth).toBe(3);
    const x = randomImages(2, 8, 1, 1);
    const a = forward(TINY_CONFIG, weights, x, { side: 8, activeBlocks: fullMask(3) });
    const b = forward(loaded.config, loaded.weights, x, { side: 8, activeBlocks: fullMask(3) });
    expect(await values(b)).toEqual(await values(a));
    tf.dispose([a, b, x]);
    disposeWeights(weights);
    disposeWeights(loaded.weights);
  });

  it("refuses a file whose tensors do not match its architecture", async () => {
    const { path, meta } = await savedTwoBlockModel();
    await writeFile(`${path}.json`, JSON.stringify({ ...meta, depth: 3 }));
    await expect(loadModel(path)).rejects.toThrow(/blocks\.2|refers to blocks/);
  });

  it("refuses a file whose meta is malformed, naming the field", async () => {
    const { path, meta } = await savedTwoBlockModel();
    await writeFile(`${path}.json`, JSON.stringify({ ...meta, depth: "two" }));
    await expect(loadModel(path)).rejects.toThrow(/vit\.json is invalid: depth: /);
    await writeFile(`${path}.json`, JSON.stringify({ ...meta, format: "onnx" }));
    await expect(loadModel(path)).rejects.toThrow(/is not an autoprog model \(onnx\)/);
  });
});
