import { parseSpec } from "../src/core/spec.ts";
import { runTraining } from "../src/train/run.ts";

/**
 * Fashion-MNIST, same seed, fp32 against mixed on the webgpu backend's compiled step: top-1 and the
 * loss curve of each, one JSON line per precision. Sized for lavapipe on a 2-core machine (about 5
 * min there); on a GPU pass a larger trainLimit/testLimit through FMNIST_TRAIN / FMNIST_TEST.
 *   [FMNIST_SEED=1] npx tsx bench/precision-fashion-mnist.ts
 */
const base = {
  name: "fmnist-mixed-vs-fp32",
  dataset: {
    name: "fashion-mnist",
    trainLimit: Number(process.env.FMNIST_TRAIN ?? 1920),
    testLimit: Number(process.env.FMNIST_TEST ?? 1000),
  },
  model: { variant: "micro", patchSize: 7, width: 32, depth: 2, heads: 2, mlpRatio: 2 },
  training: { epochs: 3, batchSize: 32, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 200, evalEvery: 3 },
  backend: "webgpu",
  seeds: [Number(process.env.FMNIST_SEED ?? 0)],
};
for (const precision of ["fp32", "mixed"] as const) {
  const began = performance.now();
  const result = await runTraining(parseSpec({ ...base, training: { ...base.training, precision } }));
  console.log(
    JSON.stringify({
      precision,
      used: result.backend.precision,
      top1: result.top1,
      online: result.history.at(-1)?.evaluation?.online,
      losses: result.history.map((h) => +h.trainLoss.toFixed(4)),
      steps: result.steps,
      skippedSteps: result.skippedSteps,
      lossScale: result.lossScale,
      seconds: +((performance.now() - began) / 1000).toFixed(1),
    }),
  );
}
process.exit(0);
