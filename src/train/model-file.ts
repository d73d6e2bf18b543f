import type * as tf from "@tensorflow/tfjs";
import { readRequiredFile, writeFileAtomic } from "../data/files.ts";
import type { ViTConfig } from "../model/config.ts";
import { restoreWeights } from "../model/growth.ts";
import { decodeTensors, encodeTensors, type ModelFileMeta } from "../model/weights-io.ts";

/**
 * A trained model on disk: `<path>.json` (format, architecture, depth, tensor index) and
 * `<path>.bin` (float32 values). Loading goes through the growth surgery with the identity
 * map, so a file that does not match its architecture fails loudly.
 */
export async function saveModel(
  path: string,
  config: ViTConfig,
  depth: number,
  weights: ReadonlyMap<string, tf.Tensor>,
): Promise<void> {
  const { index, data } = await encodeTensors(weights);
  const meta: ModelFileMeta = { format: "autoprog-vit/1", config, depth, index };
  await writeFileAtomic(`${path}.bin`, [data]);
  await writeFileAtomic(`${path}.json`, [Buffer.from(JSON.stringify(meta, null, 2))]);
}

export async function loadModel(
  path: string,
): Promise<{ config: ViTConfig; depth: number; weights: Map<string, tf.Variable> }> {
  const meta = JSON.parse(
    (await readRequiredFile(`${path}.json`, "model file")).toString("utf8"),
  ) as ModelFileMeta;
  if (meta.format !== "autoprog-vit/1")
    throw new Error(`${path}.json is not an autoprog model (${meta.format})`);
  const data = await readRequiredFile(`${path}.bin`, "model weights");
  const weights = restoreWeights(meta.config, meta.depth, decodeTensors(meta.index, data));
  return { config: meta.config, depth: meta.depth, weights };
}
