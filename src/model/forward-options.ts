import type { Random } from "../core/random.ts";

/** What one forward pass of a growable model takes besides its weights and input (ViT and VOLO alike). */
export interface ForwardOptions {
  /** Input side r of this pass; x must be [B, r, r, C]. */
  readonly side: number;
  /** One flag per block held in `weights`; inactive blocks are the identity. */
  readonly activeBlocks: readonly boolean[];
  /** Stochastic depth while training: the drop rate of the deepest block and the generator. */
  readonly dropPath?: { readonly rate: number; readonly random: Random };
}
