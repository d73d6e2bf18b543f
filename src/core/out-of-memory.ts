/**
 * Whether an error means the trainer ran out of memory: V8's heap limit (a worker thread's error,
 * or the FATAL ERROR a trainer process printed before it aborted),
 * an ArrayBuffer or typed array the CPU/WASM backends could not allocate, WASM memory that
 * could not grow, or TensorFlow's native allocator. Such a run fails once with
 * `out_of_memory`: another attempt would run out again (and take the host's memory with it).
 */
const OUT_OF_MEMORY =
  /out of memory|\bOOM\b|allocation failed|Cannot enlarge memory|Invalid typed array length|Invalid array buffer length|Failed to allocate|reaching memory limit/i;

export function isOutOfMemory(error: { readonly message: string; readonly code?: unknown }): boolean {
  return error.code === "ERR_WORKER_OUT_OF_MEMORY" || OUT_OF_MEMORY.test(error.message);
}
