import * as tf from "@tensorflow/tfjs";
import { copyToVariable } from "../model/params.ts";

/**
 * Exponential moving averages of the weights (the momentum network):
 * θm ← m·θm + (1−m)·θ after every optimizer step. Each copy is a plain name → variable map,
 * usable wherever the online weights are (forward, growth, checkpoints).
 */
export interface EmaCopy {
  readonly name: string;
  decay: number;
  readonly weights: Map<string, tf.Variable>;
}

/** Decay m for a horizon 1/(1−m) given as a fraction of one stage's steps. */
export function decayForHorizon(horizonFraction: number, stageSteps: number): number {
  const horizonSteps = Math.max(1, horizonFraction * stageSteps);
  return 1 - 1 / horizonSteps;
}

export function createEma(name: string, decay: number, source: ReadonlyMap<string, tf.Tensor>): EmaCopy {
  const weights = new Map<string, tf.Variable>();
  for (const [key, tensor] of source) weights.set(key, copyToVariable(tensor, false));
  return { name, decay, weights };
}

export function updateEma(copy: EmaCopy, source: ReadonlyMap<string, tf.Tensor>): void {
  const m = copy.decay;
  tf.tidy(() => {
    for (const [key, average] of copy.weights) {
      const current = source.get(key);
      if (!current) throw new Error(`EMA ${copy.name}: the online model has no weight ${key}`);
      average.assign(tf.add(tf.mul(average, m), tf.mul(current, 1 - m)));
    }
  });
}

export function disposeEma(copy: EmaCopy): void {
  for (const t of copy.weights.values()) t.dispose();
  copy.weights.clear();
}
