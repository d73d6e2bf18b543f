import { gridSide, tokenCount, type ViTConfig } from "./model-config.ts";

/** The architecture numbers FLOPs depend on: a ViT config but its depth (given per call) and heads. */
export type FlopsShape = Omit<ViTConfig, "depth" | "heads">;

/**
 * Analytic forward FLOPs (2 per multiply-add) of one image at a given depth and side.
 * Counts the matrix products (patch embedding, qkv, attention scores and mixing, projection,
 * MLP, head) — the terms that dominate; norms, softmax and GELU are left out, as in the
 * FLOPs tables of the ViT/DeiT papers. A training step costs about 3× the forward pass.
 */
export function forwardFlops(config: FlopsShape, depth: number, side: number): number {
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
  const d = config.width;
  const hidden = config.mlpRatio * d;
  const patchIn = config.patchSize * config.patchSize * config.channels;
  const fullTokens = tokenCount(config, config.imageSize);
  const embed = patchIn * d + d + d + fullTokens * d;
  const block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d);
  const head = 2 * d + d * config.numClasses + config.numClasses;
  return embed + depth * block + head;
}
