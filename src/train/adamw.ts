import * as tf from "@tensorflow/tfjs";

export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Which weights get decoupled weight decay (matrices only). */
  readonly decayed: (name: string) => boolean;
}

export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter): θ ← θ − lr·(m̂/(√v̂+ε) + wd·θ),
 * decay only on the weights listed in `decayed`. Moments live in variables keyed by weight
 * name, so growth can reset or remap them and checkpoints can save them.
 */
export class AdamW {
  /** Number of updates applied (bias correction uses it). */
  step = 0;
  readonly firstMoments = new Map<string, tf.Variable>();
  readonly secondMoments = new Map<string, tf.Variable>();

  constructor(readonly options: AdamWOptions) {}

  apply(weights: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap, lr: number): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay, decayed } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, weight] of weights) {
        const grad = grads[name];
        if (!grad) continue;
        const m = this.moment(this.firstMoments, name, weight);
        const v = this.moment(this.secondMoments, name, weight);
        const nextM = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
        const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
        m.assign(nextM);
        v.assign(nextV);
        const update = tf.div(
          tf.div(nextM, correction1),
          tf.add(tf.sqrt(tf.div(nextV, correction2)), epsilon),
        );
        const withDecay =
          decayed(name) && weightDecay > 0 ? tf.add(update, tf.mul(weight, weightDecay)) : update;
        weight.assign(tf.sub(weight, tf.mul(withDecay, lr)));
      }
    });
  }

  /** Forgets all moments (the reference behaviour at growth). */
  reset(): void {
    this.dispose();
    this.step = 0;
  }

  dispose(): void {
    for (const t of this.firstMoments.values()) t.dispose();
    for (const t of this.secondMoments.values()) t.dispose();
    this.firstMoments.clear();
    this.secondMoments.clear();
  }

  private moment(store: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let moment = store.get(name);
    if (!moment) {
      moment = tf.variable(tf.zerosLike(like), false); // called inside apply's tidy: the zeros are released
      store.set(name, moment);
    }
    return moment;
  }
}

/** Scales all gradients so that their global L2 norm is at most maxNorm; returns new tensors. */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  return tf.tidy(() => {
    const tensors = Object.values(grads);
    const squared = tensors.map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(tf.addN(squared));
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    const clipped: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, scale);
    return clipped;
  });
}
