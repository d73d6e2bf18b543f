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
  /**
   * Absent or "vit": the DeiT-style ViT. "volo": `volo` holds the outlooker part; `width`,
   * `heads`, `mlpRatio` and `patchSize` (the token grid) then describe the transformer part and
   * `depth` counts outlookers and transformer blocks together.
   */
  readonly family?: ModelFamily | undefined;
  readonly volo?: VoloShape | undefined;
  /**
   * "resnet": `resnet` holds the stages; `width` is the last stage's (the head's input),
   * `patchSize` the total stride, `depth` the blocks of all stages; `heads`/`mlpRatio` are 1.
   */
  readonly resnet?: ResNetShape | undefined;
}

export const MODEL_FAMILIES = ["vit", "volo", "resnet"] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

import { RESNET_VARIANTS, type ResNetShape, type ResNetVariantName, stageBlocks } from "./resnet-config.ts";
import { VARIANTS, type VariantName, type VariantShape } from "./variants.ts";
import { outlookerCount, VOLO_VARIANTS, type VoloShape, type VoloVariantName } from "./volo-config.ts";

export {
  RESNET_VARIANTS,
  type ResNetVariantName,
  VARIANTS,
  type VariantName,
  VOLO_VARIANTS,
  type VoloVariantName,
};

/** The stages of a ResNet config, or null for a ViT or VOLO. */
export function resnetShapeOf(config: Pick<ViTConfig, "family" | "resnet">): ResNetShape | null {
  if (config.family !== "resnet") return null;
  if (!config.resnet) throw new Error("a ResNet config needs its resnet shape");
  return config.resnet;
}

/** The variant names of a family. */
export function familyVariants(family: ModelFamily): readonly string[] {
  return Object.keys(family === "volo" ? VOLO_VARIANTS : family === "resnet" ? RESNET_VARIANTS : VARIANTS);
}

/** The VOLO numbers of a VOLO config, or null for a ViT. */
export function voloShapeOf(config: Pick<ViTConfig, "family" | "volo">): VoloShape | null {
  if (config.family !== "volo") return null;
  if (!config.volo) throw new Error("a VOLO config needs its volo shape");
  return config.volo;
}

/**
 * The growable blocks of a depth-l model by part, in block order: one part for a ViT, [outlookers,
 * transformer blocks] for VOLO, one per stage for a ResNet. Growth, the supernet's nesting and FLOPs treat each part alone.
 */
export function depthParts(
  config: Pick<ViTConfig, "family" | "volo" | "resnet" | "depth">,
  depth: number,
): number[] {
  const resnet = resnetShapeOf(config);
  if (resnet) return stageBlocks(resnet.stageDepths, depth);
  const volo = voloShapeOf(config);
  if (!volo) return [depth];
  const outlookers = outlookerCount({ depth: config.depth, outlookers: volo.outlookers }, depth);
  return [outlookers, depth - outlookers];
}

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
  const volo = voloShapeOf(config);
  if (volo) {
    if (!Number.isInteger(volo.stemPatch) || config.patchSize !== 2 * volo.stemPatch)
      throw new Error(`VOLO's token patch ${config.patchSize} must be twice its (whole) stem patch`);
    if (volo.outlookerWidth % volo.outlookerHeads !== 0)
      throw new Error(
        `outlooker width ${volo.outlookerWidth} is not divisible by ${volo.outlookerHeads} heads`,
      );
    if (volo.outlookers > config.depth - 1)
      throw new Error(`${volo.outlookers} outlookers leave no transformer block of ${config.depth}`);
  }
  const resnet = resnetShapeOf(config);
  if (resnet) {
    const stages = resnet.stageWidths.length;
    if (stages < 1 || resnet.stageDepths.length !== stages)
      throw new Error("a ResNet needs one width and one depth per stage");
    if (config.patchSize !== 2 ** (stages - 1))
      throw new Error(
        `a ${stages}-stage ResNet's total stride is ${2 ** (stages - 1)}, not ${config.patchSize}`,
      );
    if (resnet.stageWidths.some((c) => !Number.isInteger(c) || c % resnet.groups !== 0))
      throw new Error(
        `stage widths ${resnet.stageWidths} are not whole multiples of ${resnet.groups} groups`,
      );
    if (resnet.stageDepths.reduce((a, b) => a + b, 0) !== config.depth)
      throw new Error(`stage depths ${resnet.stageDepths} do not add up to depth ${config.depth}`);
  }
}

/** A spec's `model` section: a variant and explicit overrides. */
export interface ModelChoice {
  readonly family?: ModelFamily | undefined;
  /** A ViT variant (micro, tiny, small) or, with family "volo", a VOLO one (micro, d1). */
  readonly variant: VariantName | VoloVariantName | ResNetVariantName;
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
  const family = model.family ?? "vit";
  if (family === "resnet") return resolveResNet(model, data);
  const voloVariant = family === "volo" ? VOLO_VARIANTS[model.variant as VoloVariantName] : undefined;
  const variant: VariantShape | undefined =
    family === "volo" ? voloVariant : VARIANTS[model.variant as VariantName];
  if (!variant) throw new Error(`the ${family} family has no variant ${model.variant}`);
  // A VOLO token patch override moves the stem patch with it (the token grid is half the stem's).
  // A depth override keeps the variant's share of outlookers (at least one, and one transformer block).
  const depth = model.depth ?? variant.depth;
  const volo: Pick<ViTConfig, "family" | "volo"> = voloVariant
    ? {
        family,
        volo: {
          ...voloVariant.volo,
          stemPatch: (model.patchSize ?? variant.patchSize) / 2,
          outlookers: Math.min(
            Math.max(0, depth - 1),
            Math.max(1, Math.round((depth * voloVariant.volo.outlookers) / voloVariant.depth)),
          ),
        },
      }
    : {};
  return {
    ...volo,
    imageSize: model.imageSize ?? data.imageSize,
    patchSize: model.patchSize ?? variant.patchSize,
    channels: data.channels,
    width: model.width ?? variant.width,
    depth,
    heads: model.heads ?? variant.heads,
    mlpRatio: model.mlpRatio ?? variant.mlpRatio,
    numClasses: data.numClasses,
  };
}

/**
 * A ResNet variant with overrides: a depth override deals its blocks over the stages (earlier
 * stages first on a remainder), a width override scales every stage's width by width / variant
 * width. Patch size, heads and MLP ratio are the family's own (spec checks refuse overrides).
 */
function resolveResNet(model: ModelChoice, data: ModelData): ViTConfig {
  const variant = RESNET_VARIANTS[model.variant as ResNetVariantName];
  if (!variant) throw new Error(`the resnet family has no variant ${model.variant}`);
  const depth = model.depth ?? variant.depth;
  const stages = variant.resnet.stageWidths.length;
  const stageDepths =
    model.depth === undefined
      ? variant.resnet.stageDepths
      : Array.from({ length: stages }, (_, i) => Math.floor(depth / stages) + (i < depth % stages ? 1 : 0));
  const width = model.width ?? variant.width;
  const stageWidths = variant.resnet.stageWidths.map((c) => (c * width) / variant.width);
  return {
    family: "resnet",
    resnet: { ...variant.resnet, stageWidths, stageDepths },
    imageSize: model.imageSize ?? data.imageSize,
    patchSize: model.patchSize ?? variant.patchSize,
    channels: data.channels,
    width,
    depth,
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
