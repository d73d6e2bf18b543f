import { depthParts, gridSide, tokenCount, type ViTConfig, voloShapeOf } from "./model-config.ts";
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
