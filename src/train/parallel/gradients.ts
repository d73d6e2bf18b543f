import type { ShardData } from "./protocol.ts";

/** Splits a batch into `parts` contiguous shards of near-equal size. */
export function splitShards(batch: ShardData, parts: number): ShardData[] {
  const shards: ShardData[] = [];
  const pixels = batch.side * batch.side * batch.channels;
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const size = Math.floor(batch.size / parts) + (p < batch.size % parts ? 1 : 0);
    shards.push({
      x: batch.x.slice(start * pixels, (start + size) * pixels),
      targets: batch.targets.slice(start * batch.numClasses, (start + size) * batch.numClasses),
      labels: batch.labels.slice(start, start + size),
      size,
      side: batch.side,
      channels: batch.channels,
      numClasses: batch.numClasses,
    });
    start += size;
  }
  return shards;
}
