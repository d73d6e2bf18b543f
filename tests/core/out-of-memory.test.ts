import { describe, expect, it } from "vitest";
import { isOutOfMemory } from "../../src/core/out-of-memory.ts";

describe("isOutOfMemory", () => {
  it.each([
    "Array buffer allocation failed",
    "Invalid typed array length: 8589934592",
    "Aborted(Cannot enlarge memory arrays to size 4294967296 bytes (OOM).)",
    "OOM when allocating tensor with shape[64,48,4096,4096]",
    "Worker terminated due to reaching memory limit: JS heap out of memory",
  ])("recognises %s", (message) => {
    expect(isOutOfMemory({ message })).toBe(true);
  });

  it("recognises a worker stopped at its heap limit by its code", () => {
    expect(isOutOfMemory({ message: "terminated", code: "ERR_WORKER_OUT_OF_MEMORY" })).toBe(true);
  });

  it.each(["wasm: Aborted()", "the trainer thread exited with code 1", "loss is NaN at step 3", "ROOM 4"])(
    "leaves %s to the retry path",
    (message) => {
      expect(isOutOfMemory({ message })).toBe(false);
    },
  );
});
