import * as tf from "@tensorflow/tfjs";

/**
 * The per-weight AdamW, clipping and EMA arithmetic the engine used before its flat buffers
 * (~10 kernels per weight tensor): the reference the flat path is held to.
 */
export class ReferenceAdamW {
  step = 0;
  readonly first = new Map<string, tf.Variable>();
  readonly second = new Map<string, tf.Variable>();

  constructor(
    private readonly options: {
      beta1: number;
      beta2: number;
      epsilon: number;
      weightDecay: number;
      decayed: (name: string) => boolean;
    },
  ) {}

  apply(weights: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap, lr: number): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay, decayed } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, weight] of weights) {
        const grad = grads[name];
        if (!grad) continue;
        const m = this.moment(this.first, name, weight);
        const v = this.moment(this.second, name, weight);
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

  dispose(): void {
    for (const t of [...this.first.values(), ...this.second.values()]) t.dispose();
  }

  private moment(store: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let moment = store.get(name);
    if (!moment) {
      moment = tf.variable(tf.zerosLike(like), false);
      store.set(name, moment);
    }
    return moment;
  }
}

export function referenceClip(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    const clipped: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, scale);
    return clipped;
  });
}

export function referenceEmaUpdate(
  average: ReadonlyMap<string, tf.Variable>,
  source: ReadonlyMap<string, tf.Tensor>,
  decay: number,
): void {
  tf.tidy(() => {
    for (const [name, a] of average)
      a.assign(tf.add(tf.mul(a, decay), tf.mul(source.get(name) as tf.Tensor, 1 - decay)));
  });
}
