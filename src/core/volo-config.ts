/**
 * VOLO's architecture numbers (autoprog-spec §8): a patch stem onto a fine grid, outlooker
 * blocks there, a 2× down-sampling onto the token grid, transformer blocks, class-attention
 * blocks and the head. Pure data, so the spec, the FLOPs count and the model read one table.
 *
 * The growable depth L counts outlookers and transformer blocks together (block i < o(L) is an
 * outlooker); the class-attention blocks are fixed, like the stem and the head.
 */

export interface VoloShape {
  /** Stem patch side s: the outlooker grid is side / s; the token grid (patchSize) is side / 2s. */
  readonly stemPatch: number;
  readonly outlookerWidth: number;
  readonly outlookerHeads: number;
  /** Outlookers of the full model (D1: 4 of 18, ≈ 23% rounded to even). */
  readonly outlookers: number;
  readonly outlookerMlpRatio: number;
  /** Class-attention blocks after the transformer blocks (D1: 2). */
  readonly classBlocks: number;
}

/** Outlook attention's neighbourhood is K × K with K = 3, stride 2 and padding 1, as in VOLO. */
export const OUTLOOK_KERNEL = 3;

export type VoloVariantName = "micro" | "d1";

/** VOLO variants: the transformer part's shape (as a ViT's) and the VOLO-only numbers. */
export interface VoloVariant {
  readonly patchSize: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlpRatio: number;
  readonly volo: VoloShape;
}

/**
 * `micro` keeps D1's proportions at 28–32 px (2-px stem patches → 14×14 outlooker grid → 7×7
 * tokens, outlookers ≈ ¼ of the depth, half-width outlookers, MLP ratio 3, two class blocks).
 * `d1` has VOLO-D1's sizes (192/384 wide, 6/12 heads, 4 + 14 blocks, 2 class blocks; a patch
 * stem of 8 px in place of D1's convolution stem) for shape benchmarks at 224 px.
 */
export const VOLO_VARIANTS: Readonly<Record<VoloVariantName, VoloVariant>> = {
  micro: {
    patchSize: 4,
    width: 64,
    depth: 8,
    heads: 4,
    mlpRatio: 3,
    volo: {
      stemPatch: 2,
      outlookerWidth: 32,
      outlookerHeads: 2,
      outlookers: 2,
      outlookerMlpRatio: 3,
      classBlocks: 2,
    },
  },
  d1: {
    patchSize: 16,
    width: 384,
    depth: 18,
    heads: 12,
    mlpRatio: 3,
    volo: {
      stemPatch: 8,
      outlookerWidth: 192,
      outlookerHeads: 6,
      outlookers: 4,
      outlookerMlpRatio: 3,
      classBlocks: 2,
    },
  },
};

/**
 * Outlookers of a sub-network of depth l ≤ L: o(l) = round(l·O/L), at least 1 and at most l − 1
 * (the transformer part keeps a block), O at l = L. Both o(l) and l − o(l) never decrease as l
 * grows, so every growth grows each part on its own and the two parts keep the full model's
 * proportions (D1 at s0 = 0.5: 2+7, 3+9, 3+12, 4+14).
 */
export function outlookerCount(full: { depth: number; outlookers: number }, depth: number): number {
  if (depth >= full.depth) return full.outlookers;
  const proportional = Math.round((depth * full.outlookers) / full.depth);
  return Math.min(full.outlookers, depth - 1, Math.max(1, proportional));
}
