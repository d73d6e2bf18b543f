import type { ViTConfig } from "../model/config.ts";
import { type HostTensor, takeGroup } from "../model/weights-io.ts";
import type { Checkpoint } from "./checkpoint.ts";

/** What must match between the source run's model and the new one; the class count may differ. */
const SHARED = ["imageSize", "patchSize", "channels", "width", "heads", "mlpRatio"] as const;

const BLOCK_NAME = /^blocks\.(\d+)\.(.+)$/;
/** The branch outputs a block's ReZero scalar multiplies. */
const SCALED = ["attn.proj.w", "attn.proj.b", "mlp.fc2.w", "mlp.fc2.b"];

/**
 * The initial weights a spec's `init` names, from the checkpoint the API copied into the run's
 * folder: weight set `weights` (`online` or `ema-<name>`), its active blocks numbered from 0 (as a
 * model file has them, src/checkpoints/model-export.ts), each block's ReZero scalar folded into
 * the outputs it scales so every block computes what it did in the source run. Throws when the
 * architectures differ in more than the class count (the head then starts fresh).
 */
export function initialWeightsOf(
  checkpoint: Checkpoint,
  weights: string,
  config: ViTConfig,
): Map<string, HostTensor> {
  const { meta } = checkpoint;
  const differing = SHARED.filter((key) => meta.config[key] !== config[key]);
  if (differing.length > 0)
    throw new Error(
      `init: the source run's model differs in ${differing.map((k) => `${k} (${meta.config[k]}, here ${config[k]})`).join(", ")}`,
    );
  const group = weights === "online" ? "online" : `ema/${weights.slice("ema-".length)}`;
  const source = takeGroup(checkpoint.tensors, group);
  if (source.size === 0) throw new Error(`init: the source run has no ${weights} weights`);
  const renumber = new Map<number, number>();
  meta.activeBlocks.forEach((active, i) => {
    if (active) renumber.set(i, renumber.size);
  });
  const initial = new Map<string, HostTensor>();
  for (const [name, tensor] of source) {
    const block = BLOCK_NAME.exec(name);
    if (!block) {
      initial.set(name, tensor);
      continue;
    }
    const target = renumber.get(Number(block[1]));
    const part = block[2] as string;
    if (target === undefined || part === "rezero") continue;
    const scale = SCALED.includes(part) ? source.get(`blocks.${block[1]}.rezero`)?.values[0] : undefined;
    const values = scale === undefined ? tensor.values : tensor.values.map((v) => v * scale);
    initial.set(`blocks.${target}.${part}`, { shape: tensor.shape, values });
  }
  return initial;
}
