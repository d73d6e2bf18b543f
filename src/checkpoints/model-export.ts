import { z } from "zod";
import { encodeSafetensors, type SafetensorsTensor } from "../kit/safetensors.ts";
import { CheckpointFormatError, type CheckpointParts } from "./wire.ts";

/**
 * A run's trained weights as a safetensors file (`GET /v1/runs/{id}/model`), cut from one of its
 * checkpoints: the online model or one EMA copy, only the blocks the model runs (a supernet's
 * inactive blocks are left out and the rest numbered 0…n−1), with the architecture in
 * `__metadata__`. Tensor names and their timm counterparts: docs/model-files.md.
 * Portable (no Node module): the Workers entry serves it from R2 too.
 */

/** The format name in `__metadata__`; bumped if a tensor's name or layout ever changes. */
export const MODEL_FILE_FORMAT = "autoprog-vit-safetensors/1";

/** `online`, or `ema-<name>` for the EMA copy a spec's `training.ema` names. */
export const ModelWeightsSchema = z.string().regex(/^(online|ema-[a-z][a-z0-9_-]*)$/, "online or ema-<name>");

const count = z.number().int().min(0);

/** The part of a checkpoint's meta (src/train/checkpoint-meta.ts) a model file needs. */
const ExportedMetaSchema = z.object({
  config: z
    .object({
      imageSize: count,
      patchSize: count,
      channels: count,
      width: count,
      depth: count,
      heads: count,
      mlpRatio: z.number(),
      numClasses: count,
      // A VOLO model's `family` and `volo` shape go into the file's architecture as the trainer wrote them.
    })
    .loose(),
  activeBlocks: z.array(z.boolean()),
  side: count,
  epoch: count,
  step: count,
  arm: z.string(),
  seed: z.number().int(),
  emaDecays: z.record(z.string(), z.number()),
  index: z.array(z.object({ name: z.string(), shape: z.array(count), offset: count })),
});
type ExportedMeta = z.infer<typeof ExportedMetaSchema>;

/** A weights choice the checkpoint does not hold; `available` lists the ones it does. */
export class UnknownWeightsError extends Error {
  override readonly name = "UnknownWeightsError";
  constructor(
    readonly weights: string,
    readonly available: readonly string[],
  ) {
    super(`this run has no ${weights} weights; it has ${available.join(", ")}`);
  }
}

function readMeta(parts: CheckpointParts): ExportedMeta {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(parts.meta));
  } catch {
    throw new CheckpointFormatError("the checkpoint meta is not JSON");
  }
  const parsed = ExportedMetaSchema.safeParse(value);
  if (!parsed.success)
    throw new CheckpointFormatError(`the checkpoint meta is invalid: ${parsed.error.message}`);
  return parsed.data;
}

const weightsOf = (meta: ExportedMeta): string[] => [
  "online",
  ...Object.keys(meta.emaDecays).map((name) => `ema-${name}`),
];

/** The weights a checkpoint holds: `online` and `ema-<name>` per EMA copy. */
export const availableWeights = (parts: CheckpointParts): string[] => weightsOf(readMeta(parts));

const BLOCK_NAME = /^blocks\.(\d+)\.(.+)$/;

export interface ModelFileFacts {
  /** Identifies the file's origin in its metadata. */
  readonly runId: string;
  /** `online` or `ema-<name>`. */
  readonly weights: string;
  /** The dataset the run trained on (its normalisation statistics: docs/model-files.md). */
  readonly dataset: string;
}

/**
 * The safetensors bytes of one weight set of a checkpoint. Throws UnknownWeightsError for a
 * weight set it does not hold, CheckpointFormatError when the checkpoint is not readable.
 */
export function checkpointToSafetensors(
  parts: CheckpointParts,
  facts: ModelFileFacts,
): Uint8Array<ArrayBuffer> {
  const meta = readMeta(parts);
  const available = weightsOf(meta);
  if (!available.includes(facts.weights)) throw new UnknownWeightsError(facts.weights, available);
  const group = facts.weights === "online" ? "online/" : `ema/${facts.weights.slice("ema-".length)}/`;
  // Held block i → exported block number, for active blocks only.
  const renumber = new Map<number, number>();
  meta.activeBlocks.forEach((active, i) => {
    if (active) renumber.set(i, renumber.size);
  });
  const tensors: SafetensorsTensor[] = [];
  for (const record of meta.index) {
    if (!record.name.startsWith(group)) continue;
    let name = record.name.slice(group.length);
    const block = BLOCK_NAME.exec(name);
    if (block) {
      const exported = renumber.get(Number(block[1]));
      if (exported === undefined) continue;
      name = `blocks.${exported}.${block[2]}`;
    }
    const elements = record.shape.reduce((a, b) => a * b, 1);
    const begin = record.offset * 4;
    if (begin + elements * 4 > parts.data.byteLength)
      throw new CheckpointFormatError(`tensor ${record.name} runs past the end of the checkpoint data`);
    // The checkpoint's data is float32 little-endian, as safetensors wants: the bytes go as they are.
    tensors.push({
      name,
      dtype: "F32",
      shape: record.shape,
      bytes: parts.data.subarray(begin, begin + elements * 4),
    });
  }
  const { config } = meta;
  const architecture = { ...config, depth: renumber.size };
  return encodeSafetensors(tensors, {
    format: MODEL_FILE_FORMAT,
    architecture: JSON.stringify(architecture),
    // The side the model ran at last; the position table covers the full grid and is resized for others.
    input_side: String(meta.side),
    input_layout: "NHWC",
    dataset: facts.dataset,
    weights: facts.weights,
    run: facts.runId,
    arm: meta.arm,
    seed: String(meta.seed),
    epoch: String(meta.epoch),
    step: String(meta.step),
  });
}
