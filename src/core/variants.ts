/** Shape of a named ViT variant; data, not tensors, so the spec can validate against it. */
export interface VariantShape {
  readonly patchSize: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlpRatio: number;
}

export type VariantName = "micro" | "tiny" | "small";

/**
 * Named variants for 28–32 px images with 4-px patches. `tiny`/`small` keep DeiT's widths and
 * head counts (192/3, 384/6, 12 blocks); `micro` is the CI-sized model.
 */
export const VARIANTS: Readonly<Record<VariantName, VariantShape>> = {
  micro: { patchSize: 4, width: 64, depth: 6, heads: 4, mlpRatio: 4 },
  tiny: { patchSize: 4, width: 192, depth: 12, heads: 3, mlpRatio: 4 },
  small: { patchSize: 4, width: 384, depth: 12, heads: 6, mlpRatio: 4 },
};
