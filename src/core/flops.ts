import {
  depthParts,
  gridSide,
  resnetShapeOf,
  tokenCount,
  type ViTConfig,
  voloShapeOf,
} from "./model-config.ts";
import type { ResNetShape } from "./resnet-config.ts";
import { OUTLOOK_KERNEL, type VoloShape } from "./volo-config.ts";

/**
 * The architecture numbers FLOPs depend on: a ViT config but its heads. `depth` is the full
 * depth (VOLO splits a sub-network's depth between its parts by it); the counted depth is given
 * per call.
 */
export type FlopsShape = Omit<ViTConfig, "heads">;

/**
 * Analytic forward FLOPs (2 per multiply-add) of one image at a given depth and side.
 * Counts the matrix products (patch embedding, qkv, attention scores and mixing, projection,
 * MLP, head) — the terms that dominate; norms, softmax and GELU are left out, as in the
 * FLOPs tables of the ViT/DeiT papers. A training step costs about 3× the forward pass.
 */
export function forwardFlops(config: FlopsShape, depth: number, side: number): number {
  const volo = voloShapeOf(config);
  if (volo) return voloForwardFlops(config, volo, depth, side);
  const resnet = resnetShapeOf(config);
  if (resnet) return resnetForwardFlops(config, resnet, depth, side);
  const grid = gridSide(config, side);
  const patches = grid * grid;
  const tokens = tokenCount(config, side);
  const d = config.width;
  const hidden = config.mlpRatio * d;
  const patchIn = config.patchSize * config.patchSize * config.channels;

  const embed = patches * patchIn * d;
  const qkv = tokens * d * 3 * d;
  const scores = tokens * tokens * d; // Σ over heads of N·N·d_head
  const mix = tokens * tokens * d;
  const proj = tokens * d * d;
  const mlp = 2 * tokens * d * hidden;
  const block = qkv + scores + mix + proj + mlp;
  const head = d * config.numClasses;
  return 2 * (embed + depth * block + head);
}

/** Trainable parameters of a model with `depth` blocks (the position table is for the full grid). */
export function parameterCount(config: FlopsShape, depth: number): number {
  const volo = voloShapeOf(config);
  if (volo) return voloParameterCount(config, volo, depth);
  const resnet = resnetShapeOf(config);
  if (resnet) return resnetParameterCount(config, resnet, depth);
  const d = config.width;
  const hidden = config.mlpRatio * d;
  const patchIn = config.patchSize * config.patchSize * config.channels;
  const fullTokens = tokenCount(config, config.imageSize);
  const embed = patchIn * d + d + d + fullTokens * d;
  const block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d);
  const head = 2 * d + d * config.numClasses + config.numClasses;
  return embed + depth * block + head;
}

/**
 * VOLO's forward FLOPs at depth l (o(l) outlookers, the rest transformer blocks), same
 * convention: stem, per outlooker v, attention logits (per pooled location), window mixing
 * (K²·K² per channel), projection and MLP; the 2×2 merge; transformer blocks on g² tokens (no
 * class token yet); class blocks (one query over g² + 1 tokens); head. Pooling, unfold and fold
 * move data and are not counted.
 */
function voloForwardFlops(config: FlopsShape, volo: VoloShape, depth: number, side: number): number {
  const [outlookers = 0, transformers = 0] = depthParts(config, depth);
  const grid = gridSide(config, side);
  const tokens = grid * grid;
  const fine = 4 * tokens;
  const pooled = tokens; // the outlooker grid pooled 2× is the token grid
  const c = volo.outlookerWidth;
  const k2 = OUTLOOK_KERNEL * OUTLOOK_KERNEL;
  const d = config.width;
  const stem = fine * volo.stemPatch * volo.stemPatch * config.channels * c;
  const outlooker =
    fine * c * c + // v
    pooled * c * volo.outlookerHeads * k2 * k2 + // attention logits
    pooled * k2 * k2 * c + // windows mixed: per location and channel, K² outputs of K² inputs
    fine * c * c + // projection
    2 * fine * c * volo.outlookerMlpRatio * c;
  const merge = tokens * 4 * c * d;
  const hidden = config.mlpRatio * d;
  const block = tokens * d * 3 * d + 2 * tokens * tokens * d + tokens * d * d + 2 * tokens * d * hidden;
  const all = tokens + 1;
  const classBlock = d * d + all * d * 2 * d + 2 * all * d + d * d + 2 * d * hidden;
  const head = d * config.numClasses;
  return (
    2 * (stem + outlookers * outlooker + merge + transformers * block + volo.classBlocks * classBlock + head)
  );
}

function voloParameterCount(config: FlopsShape, volo: VoloShape, depth: number): number {
  const [outlookers = 0, transformers = 0] = depthParts(config, depth);
  const c = volo.outlookerWidth;
  const k2 = OUTLOOK_KERNEL * OUTLOOK_KERNEL;
  const d = config.width;
  const hidden = config.mlpRatio * d;
  const fineHidden = volo.outlookerMlpRatio * c;
  const tokenGrid = gridSide(config, config.imageSize);
  const stem = volo.stemPatch * volo.stemPatch * config.channels * c + c;
  const merge = 4 * c * d + d;
  const pos = tokenGrid * tokenGrid * d;
  const outlooker =
    4 * c +
    c * c +
    (c * volo.outlookerHeads * k2 * k2 + volo.outlookerHeads * k2 * k2) +
    (c * c + c) +
    (c * fineHidden + fineHidden) +
    (fineHidden * c + c);
  const block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d);
  const classBlock = 4 * d + d * d + 2 * d * d + (d * d + d) + (d * hidden + hidden) + (hidden * d + d);
  const head = d + 2 * d + d * config.numClasses + config.numClasses; // cls, norm, head
  return (
    stem + merge + pos + outlookers * outlooker + transformers * block + volo.classBlocks * classBlock + head
  );
}

/** Side of stage s's feature map at input side r: each stride-2 "same" convolution halves it (rounding up). */
export const resnetStageSide = (side: number, stage: number): number => Math.ceil(side / 2 ** stage);

/**
 * A ResNet's forward FLOPs at depth l (stages' blocks by core/resnet-config.ts): a 3×3
 * convolution costs 2·H_out·W_out·9·C_in·C_out; the stem (C → c₀), per block two convolutions
 * at c_s on its stage's map, per transition one stride-2 convolution c_{s−1} → c_s on the
 * halved map, the head c_last → classes. Norms, activations, adds and pooling are not counted
 * (as the ViT count leaves out softmax and norms).
 */
function resnetForwardFlops(config: FlopsShape, resnet: ResNetShape, depth: number, side: number): number {
  gridSide(config, side);
  const blocks = depthParts(config, depth);
  const conv = (map: number, cin: number, cout: number) => map * map * 9 * cin * cout;
  let macs = conv(side, config.channels, resnet.stageWidths[0] as number);
  resnet.stageWidths.forEach((c, s) => {
    const map = resnetStageSide(side, s);
    if (s > 0) macs += conv(map, resnet.stageWidths[s - 1] as number, c);
    macs += (blocks[s] ?? 0) * 2 * conv(map, c, c);
  });
  macs += (resnet.stageWidths.at(-1) as number) * config.numClasses;
  return 2 * macs;
}

/** Convolutions without bias (a GroupNorm follows each); GroupNorm γ, β; the head's weights and bias. */
function resnetParameterCount(config: FlopsShape, resnet: ResNetShape, depth: number): number {
  const blocks = depthParts(config, depth);
  const first = resnet.stageWidths[0] as number;
  let count = 9 * config.channels * first + 2 * first;
  resnet.stageWidths.forEach((c, s) => {
    if (s > 0) count += 9 * (resnet.stageWidths[s - 1] as number) * c + 2 * c;
    count += (blocks[s] ?? 0) * 2 * (9 * c * c + 2 * c);
  });
  const last = resnet.stageWidths.at(-1) as number;
  return count + last * config.numClasses + config.numClasses;
}
