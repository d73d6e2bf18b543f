/**
 * ViT architecture description and the table of named variants.
 * Width never changes during progressive learning; depth and input side do.
 */
export interface ViTConfig {
  /** Full input side in pixels (images are resized to it before any down-sampling). */
  readonly imageSize: number;
  /** Patch side in pixels; the token grid at side r is (r / patchSize)². */
  readonly patchSize: number;
  /** Input channels (1 for MNIST-like data, 3 for CIFAR). */
  readonly channels: number;
  /** Embedding width D. */
  readonly width: number;
  /** Full depth L (number of transformer blocks of the final model). */
  readonly depth: number;
  /** Attention heads; width must be divisible by it. */
  readonly heads: number;
  /** MLP hidden width = mlpRatio · width. */
  readonly mlpRatio: number;
  readonly numClasses: number;
}

import { VARIANTS, type VariantName } from "./variants.ts";

export { VARIANTS, type VariantName };

export function gridSide(config: Pick<ViTConfig, "patchSize">, side: number): number {
  if (side % config.patchSize !== 0) {
    throw new Error(`input side ${side} is not a multiple of the patch size ${config.patchSize}`);
  }
  return side / config.patchSize;
}

/** Tokens of the sequence at input side r, including the class token. */
export function tokenCount(config: Pick<ViTConfig, "patchSize">, side: number): number {
  return tokensOfGrid(gridSide(config, side));
}

/**
 * Tokens of a `grid` × `grid` patch grid: the patches and the class token. The one formula; the
 * spec's ceilings count with it before the spec's sides are known to be whole grids.
 */
export const tokensOfGrid = (grid: number): number => grid * grid + 1;

export function validateConfig(config: ViTConfig): void {
  if (config.width % config.heads !== 0) {
    throw new Error(`width ${config.width} is not divisible by heads ${config.heads}`);
  }
  gridSide(config, config.imageSize);
  if (config.depth < 1) throw new Error("depth must be at least 1");
}

/** A spec's `model` section: a variant and explicit overrides. */
export interface ModelChoice {
  readonly variant: VariantName;
  readonly imageSize?: number | undefined;
  readonly patchSize?: number | undefined;
  readonly width?: number | undefined;
  readonly depth?: number | undefined;
  readonly heads?: number | undefined;
  readonly mlpRatio?: number | undefined;
}

/** The dataset facts a model takes: its native side (the default input side), channels, classes. */
export interface ModelData {
  readonly imageSize: number;
  readonly channels: number;
  readonly numClasses: number;
}

/**
 * The variant with explicit overrides applied, not yet validated: the spec's cross-field checks
 * (core/spec-checks.ts) read it to say which field is wrong.
 */
export function resolveModelConfig(model: ModelChoice, data: ModelData): ViTConfig {
  const variant = VARIANTS[model.variant];
  return {
    imageSize: model.imageSize ?? data.imageSize,
    patchSize: model.patchSize ?? variant.patchSize,
    channels: data.channels,
    width: model.width ?? variant.width,
    depth: model.depth ?? variant.depth,
    heads: model.heads ?? variant.heads,
    mlpRatio: model.mlpRatio ?? variant.mlpRatio,
    numClasses: data.numClasses,
  };
}

/** The architecture an experiment spec asks for: its variant with explicit overrides applied. */
export function modelConfigFromSpec(model: ModelChoice, data: ModelData): ViTConfig {
  const config = resolveModelConfig(model, data);
  validateConfig(config);
  return config;
}
