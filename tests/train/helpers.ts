import { type ExperimentSpecInput, parseSpec } from "../../src/core/spec.ts";

/** A real-MNIST spec small enough to train in seconds: 28 px, 7-px patches, 32 wide, 2 deep. */
export function tinyMnistSpec(
  overrides: { training?: ExperimentSpecInput["training"]; trainLimit?: number } = {},
) {
  return parseSpec({
    name: "tiny-mnist",
    dataset: { name: "mnist", trainLimit: overrides.trainLimit ?? 128, testLimit: 64 },
    model: { variant: "micro", patchSize: 7, width: 32, depth: 2, heads: 2, mlpRatio: 2 },
    training: {
      epochs: 2,
      batchSize: 32,
      lr: 2e-3,
      warmupEpochs: 0,
      evalBatchSize: 64,
      ...overrides.training,
    },
    backend: "wasm",
  });
}
