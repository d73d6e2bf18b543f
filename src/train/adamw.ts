import * as tf from "@tensorflow/tfjs";
import type { FlatLayout } from "./flat.ts";

export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Which weights get decoupled weight decay (matrices only). */
  readonly decayed: (name: string) => boolean;
}

export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

/** A gradient over a whole flat layout; `updated` names the weights it really covers. */
export interface FlatGradient {
  readonly layout: FlatLayout;
  readonly flat: tf.Tensor1D;
  /** null: every weight of the layout (the usual case); else the active subset (supernet). */
  readonly updated: readonly string[] | null;
}

/** Masks kept per active subset; a supernet samples only a few distinct ones. */
const MASK_CACHE_LIMIT = 32;

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter): θ ← θ − lr·(m̂/(√v̂+ε) + wd·θ),
 * decay only on the weights `decayed` selects. Parameters, moments and decay live in flat
 * buffers, so one update is ~16 kernels for the whole model; the per-weight variables are
 * refreshed from the flat parameters (a slice each). Weights without a gradient this step
 * (inactive supernet blocks) keep their values and moments, as with a per-weight loop.
 */
export class AdamW {
  /** Number of updates applied (bias correction uses it). */
  step = 0;
  private layout: FlatLayout | null = null;
  private params: tf.Tensor1D | null = null;
  private firstMoment: tf.Variable | null = null;
  private secondMoment: tf.Variable | null = null;
  private decayVector: tf.Tensor1D | null = null;
  /** The data each weight variable held when this optimizer last wrote it. */
  private written = new Map<string, object>();
  private readonly masks = new Map<string, tf.Tensor1D>();

  constructor(readonly options: AdamWOptions) {}

  /**
   * One update. Returns the new flat parameters (owned by the optimizer, valid until the next
   * update), which the EMAs average from.
   */
  apply(weights: ReadonlyMap<string, tf.Variable>, gradient: FlatGradient, lr: number): tf.Tensor1D {
    const params = this.syncParams(weights, gradient.layout);
    this.step += 1;
    const { beta1, beta2, epsilon } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const m = this.firstMoment as tf.Variable;
    const v = this.secondMoment as tf.Variable;
    const mask = gradient.updated ? this.maskFor(gradient.updated) : null;
    const next = tf.tidy(() => {
      const g = gradient.flat;
      const nextM = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
      const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
      const update = tf.div(tf.div(nextM, correction1), tf.add(tf.sqrt(tf.div(nextV, correction2)), epsilon));
      const withDecay = tf.add(update, tf.mul(params, this.decayVector as tf.Tensor1D));
      const nextParams = tf.sub(params, tf.mul(withDecay, lr));
      if (!mask) return [nextM, nextV, nextParams];
      return [tf.where(mask, nextM, m), tf.where(mask, nextV, v), tf.where(mask, nextParams, params)];
    }) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    m.assign(next[0]);
    v.assign(next[1]);
    tf.dispose([next[0], next[1], params]);
    this.params = next[2];
    this.writeBack(weights, gradient.updated ?? gradient.layout.entries.map((e) => e.name));
    return next[2];
  }

  /** Per-weight copies of the moments (for checkpoints and growth); the caller disposes them. */
  moments(): { first: Map<string, tf.Tensor>; second: Map<string, tf.Tensor> } {
    if (!this.layout || !this.firstMoment || !this.secondMoment)
      return { first: new Map(), second: new Map() };
    return {
      first: this.layout.unflatten(this.firstMoment),
      second: this.layout.unflatten(this.secondMoment),
    };
  }

  /** Replaces the moments (restored or grown); weights absent from the maps start at zero. */
  loadMoments(
    layout: FlatLayout,
    first: ReadonlyMap<string, tf.Tensor>,
    second: ReadonlyMap<string, tf.Tensor>,
  ): void {
    this.disposeBuffers();
    this.layout = layout;
    this.firstMoment = toVariable(layout.flatten(first));
    this.secondMoment = toVariable(layout.flatten(second));
  }

  /** Forgets all moments (the reference behaviour at growth). */
  reset(): void {
    this.dispose();
    this.step = 0;
  }

  dispose(): void {
    this.disposeBuffers();
    this.layout = null;
  }

  private disposeBuffers(): void {
    tf.dispose([this.params ?? [], this.firstMoment ?? [], this.secondMoment ?? [], this.decayVector ?? []]);
    for (const mask of this.masks.values()) mask.dispose();
    this.masks.clear();
    this.written.clear();
    this.params = null;
    this.firstMoment = null;
    this.secondMoment = null;
    this.decayVector = null;
  }

  /**
   * The flat parameters, rebuilt from the weight variables unless they still hold exactly what
   * this optimizer wrote (growth, restore or a test may have replaced them in between).
   */
  private syncParams(weights: ReadonlyMap<string, tf.Variable>, layout: FlatLayout): tf.Tensor1D {
    if (!this.layout || this.layout.key !== layout.key) {
      const zeros = new Map<string, tf.Tensor>();
      this.loadMoments(layout, zeros, zeros);
    }
    this.decayVector ??= tf.tidy(
      () => tf.mul(tf.tensor1d(layout.mask(this.options.decayed)), this.options.weightDecay) as tf.Tensor1D,
    );
    const current =
      this.params !== null && [...weights].every(([name, w]) => this.written.get(name) === w.dataId);
    if (current && weights.size === layout.entries.length) return this.params as tf.Tensor1D;
    this.params?.dispose();
    this.params = layout.flatten(weights);
    for (const [name, w] of weights) this.written.set(name, w.dataId);
    return this.params;
  }

  private writeBack(weights: ReadonlyMap<string, tf.Variable>, names: readonly string[]): void {
    const layout = this.layout as FlatLayout;
    for (const [name, view] of layout.unflatten(this.params as tf.Tensor1D, names)) {
      const weight = weights.get(name);
      if (!weight) throw new Error(`AdamW: no weight ${name} to update`);
      weight.assign(view);
      view.dispose(); // the variable now holds its own reference to the data
      this.written.set(name, weight.dataId);
    }
  }

  private maskFor(updated: readonly string[]): tf.Tensor1D {
    const key = updated.join(",");
    let mask = this.masks.get(key);
    if (!mask) {
      const selected = new Set(updated);
      mask = tf.tensor1d(
        Uint8Array.from((this.layout as FlatLayout).mask((name) => selected.has(name))),
        "bool",
      );
      if (this.masks.size >= MASK_CACHE_LIMIT) {
        const [oldest] = this.masks;
        if (oldest) {
          oldest[1].dispose();
          this.masks.delete(oldest[0]);
        }
      }
      this.masks.set(key, mask);
    }
    return mask;
  }
}

function toVariable(flat: tf.Tensor1D): tf.Variable {
  const variable = tf.variable(flat, false);
  flat.dispose();
  return variable;
}

/** Scales the gradient so that its global L2 norm is at most maxNorm; returns a new tensor. */
export function clipByGlobalNorm(flat: tf.Tensor1D, maxNorm: number): tf.Tensor1D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(flat)));
    return tf.mul(flat, tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1));
  });
}
