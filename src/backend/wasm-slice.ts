import * as tf from "@tensorflow/tfjs";

/**
 * A Slice kernel for the wasm backend that reads its input in place. tfjs-backend-wasm 4.22's own
 * Slice starts with `readSync`, which copies the *whole* input out of the wasm heap: cutting 150
 * weights out of a 5.5M-float parameter buffer copied 3.3 GB and took seconds. This one views the
 * heap instead; the copy loops are the same as upstream's.
 */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

type SliceAttrs = { begin: number | number[]; size: number | number[] };

function slice(args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend }) {
  const x = args.inputs.x as tf.TensorInfo;
  const attrs = args.attrs as unknown as SliceAttrs;
  // The registry types the backend as the base class; this kernel is registered for wasm only.
  const backend = args.backend as unknown as WasmBackendLike;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size) as [
    number[],
    number[],
  ];
  const out = backend.makeOutput(size, x.dtype);
  // Views are taken after the output is allocated: an allocation may grow (and move) the heap.
  const input = backend.typedArrayFromHeap(x);
  const output = backend.typedArrayFromHeap(out);
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const offset = tf.slice_util.computeFlatOffset(begin, strides);
    output.set(input.subarray(offset, offset + tf.util.sizeFromShape(size)));
    return out;
  }
  // Copy runs of the innermost dimension, walking the outer indices like an odometer.
  const rank = x.shape.length;
  const run = size[rank - 1] as number;
  const outer = size.slice(0, rank - 1);
  const index = new Array<number>(rank - 1).fill(0);
  const runs = outer.reduce((a, b) => a * b, 1);
  for (let r = 0, at = 0; r < runs; r++, at += run) {
    let offset = begin[rank - 1] as number;
    for (let axis = 0; axis < rank - 1; axis++) {
      offset += ((begin[axis] as number) + (index[axis] as number)) * (strides[axis] as number);
    }
    output.set(input.subarray(offset, offset + run), at);
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis] = (index[axis] as number) + 1;
      if ((index[axis] as number) < (outer[axis] as number)) break;
      index[axis] = 0;
    }
  }
  return out;
}

/** Replaces the wasm backend's Slice kernel (string tensors never reach our graphs). */
export function installWasmSlice(): void {
  tf.unregisterKernel("Slice", "wasm");
  tf.registerKernel({
    kernelName: "Slice",
    backendName: "wasm",
    kernelFunc: slice as unknown as tf.KernelFunc,
  });
}
