import type * as tf from "@tensorflow/tfjs";

/**
 * Named tensors ⇄ one little-endian float32 buffer plus a JSON index. Used by model files and
 * checkpoints; values round-trip bit-exactly, which exact resume depends on.
 */
export interface TensorRecord {
  readonly name: string;
  readonly shape: readonly number[];
  /** Offset in float32 elements. */
  readonly offset: number;
}

export interface HostTensor {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface EncodedTensors {
  readonly index: TensorRecord[];
  readonly data: Uint8Array;
}

/** Reads tensors to host memory (async: no blocking sync on GPU backends). */
export async function encodeTensors(tensors: ReadonlyMap<string, tf.Tensor>): Promise<EncodedTensors> {
  const index: TensorRecord[] = [];
  let total = 0;
  for (const [name, tensor] of tensors) {
    index.push({ name, shape: [...tensor.shape], offset: total });
    total += tensor.size;
  }
  const values = new Float32Array(total);
  let i = 0;
  for (const tensor of tensors.values()) {
    const record = index[i++] as TensorRecord;
    values.set((await tensor.data()) as Float32Array, record.offset);
  }
  return { index, data: new Uint8Array(values.buffer) };
}

export function decodeTensors(index: readonly TensorRecord[], data: Uint8Array): Map<string, HostTensor> {
  // Copy to an aligned buffer: a Buffer from fs may start at any byte offset.
  const values = new Float32Array(data.byteLength / 4);
  new Uint8Array(values.buffer).set(data);
  const result = new Map<string, HostTensor>();
  for (const record of index) {
    const size = record.shape.reduce((a, b) => a * b, 1);
    if (record.offset + size > values.length)
      throw new Error(`tensor ${record.name} runs past the end of the data`);
    result.set(record.name, {
      shape: record.shape,
      values: values.subarray(record.offset, record.offset + size),
    });
  }
  return result;
}

/** Names under `prefix/`, with the prefix removed. */
export function takeGroup(tensors: ReadonlyMap<string, HostTensor>, prefix: string): Map<string, HostTensor> {
  const group = new Map<string, HostTensor>();
  for (const [name, tensor] of tensors) {
    if (name.startsWith(`${prefix}/`)) group.set(name.slice(prefix.length + 1), tensor);
  }
  return group;
}

export function withPrefix(prefix: string, tensors: ReadonlyMap<string, tf.Tensor>): Map<string, tf.Tensor> {
  const named = new Map<string, tf.Tensor>();
  for (const [name, tensor] of tensors) named.set(`${prefix}/${name}`, tensor);
  return named;
}
