import * as tf from "@tensorflow/tfjs";
import type { ViTConfig } from "./config.ts";
import type { DepthMap } from "./depth-map.ts";
import {
  blockParamSpecs,
  blockPrefix,
  copyToVariable,
  createVariable,
  initialValues,
  stemAndHeadParamSpecs,
} from "./params.ts";
import type { HostTensor } from "./weights-io.ts";

/**
 * Growth surgery: the one function that builds a model's weights from a source set and a depth
 * map. Training growth, every EMA copy, optimizer moments and checkpoint loading all go
 * through it, so there is a single copy loop to trust.
 */

const BLOCK_NAME = /^blocks\.(\d+)\.(.+)$/;
const REZERO = "rezero";

export interface GrowOptions {
  /** Seed and salt for freshly initialised blocks (randinit); salt = growth index. */
  readonly seed: number;
  readonly salt: number;
  /** Blocks whose residual branches get a zero ReZero scalar (identity growth). */
  readonly zeroResidual?: readonly number[];
  /**
   * Source tensors that need not exist (optimizer moments are created lazily): a missing one is
   * skipped instead of being an error, and fresh blocks get no entry.
   */
  readonly partial?: boolean;
}

/** Where each grown weight comes from: a source name, or null for a fresh initialisation. */
// The stem/head and block parameter specs give every expected name and shape; rezero scalars
// are the one optional extra per block.
export function surgeryPlan(
  config: ViTConfig,
  sourceNames: ReadonlySet<string>,
  map: DepthMap,
  options: Pick<GrowOptions, "zeroResidual" | "partial">,
): Map<string, string | null> {
  const sourceDepth = Math.max(-1, ...[...sourceNames].map((n) => Number(BLOCK_NAME.exec(n)?.[1] ?? -1))) + 1;
  const unexplained = [...sourceNames].filter((name) => {
    const match = BLOCK_NAME.exec(name);
    if (!match) return !stemAndHeadParamSpecs(config).some((s) => s.name === name);
    return false;
  });
  if (unexplained.length > 0) throw new Error(`unexpected weights: ${unexplained.join(", ")}`);
  const outOfRange = map.filter((source) => source !== null && (source < 0 || source >= sourceDepth));
  // A partial source (optimizer moments) may lack whole blocks that were never updated.
  if (outOfRange.length > 0 && !options.partial)
    throw new Error(`depth map refers to blocks ${outOfRange} of a ${sourceDepth}-block source`);

  const plan = new Map<string, string | null>();
  for (const spec of stemAndHeadParamSpecs(config)) plan.set(spec.name, spec.name);
  map.forEach((source, target) => {
    for (const spec of blockParamSpecs(config, target, map.length)) {
      const suffix = spec.name.slice(blockPrefix(target).length);
      plan.set(spec.name, source === null ? null : blockPrefix(source) + suffix);
    }
    const sourceRezero = source === null ? null : `${blockPrefix(source)}${REZERO}`;
    if (sourceRezero && sourceNames.has(sourceRezero))
      plan.set(`${blockPrefix(target)}${REZERO}`, sourceRezero);
  });
  for (const block of options.zeroResidual ?? []) plan.set(`${blockPrefix(block)}${REZERO}`, null);
  return plan;
}

/** Grows (or, with the identity map, restores) a weight set. The source is left untouched. */
export function growWeights(
  config: ViTConfig,
  source: ReadonlyMap<string, tf.Tensor>,
  map: DepthMap,
  options: GrowOptions,
): Map<string, tf.Variable> {
  const plan = surgeryPlan(config, new Set(source.keys()), map, options);
  const specs = new Map(
    [...stemAndHeadParamSpecs(config), ...map.flatMap((_, i) => blockParamSpecs(config, i, map.length))].map(
      (s) => [s.name, s],
    ),
  );
  const grown = new Map<string, tf.Variable>();
  for (const [target, from] of plan) {
    if (from !== null) {
      const tensor = source.get(from);
      if (!tensor) {
        if (options.partial) continue;
        throw new Error(`missing source weight ${from} for ${target}`);
      }
      const expected = specs.get(target)?.shape ?? [];
      if (tensor.shape.join("x") !== expected.join("x")) {
        throw new Error(`${from} has shape [${tensor.shape}] but ${target} needs [${expected}]`);
      }
      grown.set(target, copyToVariable(tensor));
      continue;
    }
    if (options.partial) continue;
    if (target.endsWith(`.${REZERO}`)) {
      const zero = tf.scalar(0);
      grown.set(target, tf.variable(zero, true));
      zero.dispose();
      continue;
    }
    const spec = specs.get(target);
    if (!spec) throw new Error(`no parameter spec for ${target}`);
    grown.set(target, createVariable(spec, initialValues(spec, options.seed, options.salt)));
  }
  return grown;
}

/** Identity map 0..depth−1: restoring a checkpoint is growth without change. */
export function sameDepth(depth: number): number[] {
  return Array.from({ length: depth }, (_, i) => i);
}

/** Loads saved values through the same surgery (identity map), so a mismatch throws alike. */
export function restoreWeights(
  config: ViTConfig,
  depth: number,
  values: ReadonlyMap<string, HostTensor>,
  options: Pick<GrowOptions, "partial"> = {},
): Map<string, tf.Variable> {
  const tensors = new Map(
    [...values].map(([name, v]) => [name, tf.tensor(v.values, [...v.shape], "float32")]),
  );
  try {
    return growWeights(config, tensors, sameDepth(depth), { seed: 0, salt: 0, ...options });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
