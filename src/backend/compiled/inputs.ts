import type { Random } from "../../core/random.ts";
import { dropPathKeep } from "../../model/vit.ts";

/**
 * The drop-path keep factors of a step, [active block, sample], drawn exactly as the tfjs forward
 * pass draws them (model/vit.ts): active blocks in order, none for a block whose rate is 0.
 */
export function keepMasks(
  batch: number,
  activeBlocks: readonly boolean[],
  dropPath: { readonly rate: number; readonly random: Random },
): Float32Array {
  const active = activeBlocks.flatMap((on, i) => (on ? [i] : []));
  const masks = new Float32Array(active.length * batch).fill(1);
  active.forEach((index, k) => {
    const keep = dropPathKeep(batch, dropPath, index, activeBlocks.length);
    if (keep) masks.set(keep, k * batch);
  });
  return masks;
}
