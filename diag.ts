import { parseSpec } from "./src/core/spec.ts";
import { runTraining } from "./src/train/run.ts";

const lr = Number(process.argv[2]);
const wd = Number(process.argv[3] ?? 0.05);
const ls = Number(process.argv[4] ?? 0.1);
const spec = parseSpec({
  name: "d",
  dataset: { name: "mnist", trainLimit: 6400, testLimit: 1000 },
  model: { variant: "micro", patchSize: 7 },
  training: {
    epochs: 3,
    batchSize: 64,
    lr,
    warmupEpochs: 0.3,
    weightDecay: wd,
    labelSmoothing: ls,
    augment: { cropPadding: 0 },
  },
  backend: "wasm",
});
let i = 0;
await runTraining(spec, {
  onProgress: (p) => {
    if (++i % 25 === 0) console.log(lr, p.epoch, p.stepInEpoch, p.loss.toFixed(3), p.accuracy.toFixed(3));
  },
  onEvent: (e) => {
    if (e.type === "epoch.completed") console.log("test", e.evaluation.online, e.evaluation.best);
  },
});
