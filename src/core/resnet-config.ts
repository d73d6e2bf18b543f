/**
 * A small ResNet's architecture numbers: a 3×3 convolution stem, stages of basic residual
 * blocks (two 3×3 convolutions, GroupNorm, a residual add), a stride-2 3×3 convolution between
 * stages, global average pooling and a linear head. Pure data, so the spec, the FLOPs count and
 * the model read one table.
 *
 * The down-sampling between stages is a fixed transition (like the stem and head), not the
 * first block of a stage: every growable block of a stage then has one shape, so growth may
 * copy any block of a stage into any other place of it.
 */

export interface ResNetShape {
  /** Channels of each stage (the stem outputs the first; the head reads the last). */
  readonly stageWidths: readonly number[];
  /** Blocks of each stage in the full model; the growable depth L is their sum. */
  readonly stageDepths: readonly number[];
  /** GroupNorm groups: per-sample statistics, so training and evaluation see the same function. */
  readonly groups: number;
}

export type ResNetVariantName = "micro";

export interface ResNetVariant {
  /** The total stride (2^(stages − 1)): input sides are multiples of it. */
  readonly patchSize: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlpRatio: number;
  readonly resnet: ResNetShape;
}

/** `micro`: 16/32/64 channels, 2 blocks per stage, for 28–32 px grey or RGB images (≈ 0.22 M parameters). */
export const RESNET_VARIANTS: Readonly<Record<ResNetVariantName, ResNetVariant>> = {
  micro: {
    patchSize: 4,
    width: 64,
    depth: 6,
    heads: 1,
    mlpRatio: 1,
    resnet: { stageWidths: [16, 32, 64], stageDepths: [2, 2, 2], groups: 4 },
  },
};

/**
 * Blocks per stage of a sub-network of depth l ≤ L. Blocks are dealt one at a time to the stage
 * with the smallest filled share (earliest on ties), so each stage's count never decreases as l
 * grows (every growth grows each stage on its own) and the stages keep the full model's
 * proportions ([2,2,2]: l = 3 → [1,1,1], l = 4 → [2,1,1]).
 */
export function stageBlocks(full: readonly number[], depth: number): number[] {
  const total = full.reduce((a, b) => a + b, 0);
  if (depth >= total) return [...full];
  const parts = full.map(() => 0);
  for (let k = 0; k < depth; k++) {
    let best = -1;
    full.forEach((size, i) => {
      if ((parts[i] as number) >= size) return;
      if (best < 0 || (parts[i] as number) / size < (parts[best] as number) / (full[best] as number))
        best = i;
    });
    parts[best] = (parts[best] as number) + 1;
  }
  return parts;
}
