import * as tf from "@tensorflow/tfjs";

/**
 * Where each named weight lives in one flat float buffer. The optimizer and the EMAs update the
 * whole model with a handful of kernels on flat buffers instead of ~10 kernels per weight tensor
 * (on an accelerator each kernel costs ~0.1 ms of host dispatch, whatever its size).
 */
export interface FlatEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

export class FlatLayout {
  readonly entries: readonly FlatEntry[];
  readonly size: number;
  /** Names and shapes in order: two layouts with the same key place every weight alike. */
  readonly key: string;
  private readonly byName: ReadonlyMap<string, FlatEntry>;

  constructor(shapes: Iterable<readonly [string, readonly number[]]>) {
    const entries: FlatEntry[] = [];
    let offset = 0;
    for (const [name, shape] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      entries.push({ name, shape: [...shape], offset, size });
      offset += size;
    }
    this.entries = entries;
    this.size = offset;
    this.key = entries.map((e) => `${e.name}:${e.shape.join("x")}`).join(",");
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  /** The layout of a weight map, in its iteration order. */
  static of(weights: ReadonlyMap<string, tf.Tensor>): FlatLayout {
    return new FlatLayout([...weights].map(([name, t]) => [name, t.shape] as const));
  }

  entry(name: string): FlatEntry {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`no weight ${name} in the flat layout`);
    return entry;
  }

  /** The listed weights (a subset, in layout order) concatenated; zeros stand in for missing ones. */
  flatten(tensors: ReadonlyMap<string, tf.Tensor>): tf.Tensor1D {
    return tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      let missing = 0;
      for (const entry of this.entries) {
        const tensor = tensors.get(entry.name);
        if (!tensor) {
          missing += entry.size;
          continue;
        }
        if (missing > 0) parts.push(tf.zeros([missing]));
        missing = 0;
        parts.push(tensor.rank === 1 ? tensor : tf.reshape(tensor, [entry.size]));
      }
      if (missing > 0) parts.push(tf.zeros([missing]));
      return (parts.length === 1 ? tf.clone(parts[0] as tf.Tensor) : tf.concat(parts)) as tf.Tensor1D;
    });
  }

  /** One tensor per weight, shaped, copied out of the flat buffer (the buffer stays untouched). */
  unflatten(
    flat: tf.Tensor,
    names: Iterable<string> = this.entries.map((e) => e.name),
  ): Map<string, tf.Tensor> {
    const views = new Map<string, tf.Tensor>();
    for (const name of names) {
      const { offset, size, shape } = this.entry(name);
      views.set(
        name,
        tf.tidy(() => {
          const part = tf.slice(flat, [offset], [size]);
          return shape.length === 1 ? part : tf.reshape(part, [...shape]);
        }),
      );
    }
    return views;
  }

  /** A 0/1 vector over the buffer: 1 on the weights the predicate selects. */
  mask(select: (name: string) => boolean): Float32Array {
    const values = new Float32Array(this.size);
    for (const entry of this.entries) {
      if (select(entry.name)) values.fill(1, entry.offset, entry.offset + entry.size);
    }
    return values;
  }
}
