import * as tf from "@tensorflow/tfjs";
import { FlatLayout } from "./flat.ts";

/** Decay m for a horizon 1/(1−m) given as a fraction of one stage's steps. */
export function decayForHorizon(horizonFraction: number, stageSteps: number): number {
  const horizonSteps = Math.max(1, horizonFraction * stageSteps);
  return 1 - 1 / horizonSteps;
}

/**
 * An exponential moving average of the weights (the momentum network):
 * θm ← m·θm + (1−m)·θ after every optimizer step. The average lives in one flat buffer, so an
 * update is three kernels for the whole model; the named per-weight tensors that forward passes,
 * growth and checkpoints read are cut out of it only when asked for, and cached until the next
 * update.
 */
export class EmaCopy {
  private layout: FlatLayout;
  private flat: tf.Tensor1D;
  private views: Map<string, tf.Tensor> | null = null;

  constructor(
    readonly name: string,
    public decay: number,
    source: ReadonlyMap<string, tf.Tensor>,
  ) {
    this.layout = FlatLayout.of(source);
    this.flat = this.layout.flatten(source);
  }

  /** The averaged weights by name (valid until the next update or replacement). */
  get weights(): ReadonlyMap<string, tf.Tensor> {
    if (!this.views) {
      this.views = this.layout.unflatten(this.flat);
      for (const view of this.views.values()) tf.keep(view); // may be first read inside a caller's tidy
    }
    return this.views;
  }

  /** One averaging step from the online model's flat parameters in the same layout. */
  update(source: tf.Tensor1D, layout: FlatLayout): void {
    if (layout.key !== this.layout.key) {
      throw new Error(`EMA ${this.name}: the online model's weights are laid out differently`);
    }
    const m = this.decay;
    const next = tf.tidy(() => tf.add(tf.mul(this.flat, m), tf.mul(source, 1 - m))) as tf.Tensor1D;
    this.setFlat(next);
  }

  /** Takes over a new weight set (grown or restored); the given tensors stay the caller's. */
  replace(weights: ReadonlyMap<string, tf.Tensor>): void {
    this.layout = FlatLayout.of(weights);
    this.setFlat(this.layout.flatten(weights));
  }

  dispose(): void {
    this.dropViews();
    this.flat.dispose();
  }

  private setFlat(next: tf.Tensor1D): void {
    this.dropViews();
    this.flat.dispose();
    this.flat = next;
  }

  private dropViews(): void {
    if (this.views) tf.dispose([...this.views.values()]);
    this.views = null;
  }
}
