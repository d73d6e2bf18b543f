import type * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { readRequiredFile, writeFileAtomic } from "../data/files.ts";
import type { ViTConfig } from "../model/config.ts";
import { restoreWeights } from "../model/growth.ts";
import { decodeTensors, encodeTensors } from "../model/weights-io.ts";
import {
  count,
  declaredFormat,
  parseJson,
  parseMeta,
  TensorRecordSchema,
  ViTConfigSchema,
} from "./meta-schemas.ts";

const MODEL_FORMAT = "autoprog-vit/1";

/** A saved model's JSON: its architecture, how many blocks it holds, and its tensor index. */
const ModelFileMetaSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  config: ViTConfigSchema,
  depth: count,
  index: z.array(TensorRecordSchema),
});
type ModelFileMeta = z.infer<typeof ModelFileMetaSchema>;

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
  const meta: ModelFileMeta = { format: MODEL_FORMAT, config, depth, index };
  await writeFileAtomic(`${path}.bin`, [data]);
  await writeFileAtomic(`${path}.json`, [Buffer.from(JSON.stringify(meta, null, 2))]);
}

export async function loadModel(
  path: string,
): Promise<{ config: ViTConfig; depth: number; weights: Map<string, tf.Variable> }> {
  const meta = parseModelFileMeta(
    (await readRequiredFile(`${path}.json`, "model file")).toString("utf8"),
    path,
  );
  const data = await readRequiredFile(`${path}.bin`, "model weights");
  const weights = restoreWeights(meta.config, meta.depth, decodeTensors(meta.index, data));
  return { config: meta.config, depth: meta.depth, weights };
}

function parseModelFileMeta(text: string, path: string): ModelFileMeta {
  const what = `model file ${path}.json`;
  const value = parseJson(text, what);
  const format = declaredFormat(value);
  if (format !== MODEL_FORMAT) throw new Error(`${path}.json is not an autoprog model (${String(format)})`);
  return parseMeta(ModelFileMetaSchema, value, what);
}
