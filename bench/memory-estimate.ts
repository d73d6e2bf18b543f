/**
 * The run-cost memory estimate (src/core/run-cost.ts) against what the trainer really holds
 * (not a test). Each case trains a few steps (two per epoch) and evaluations on wasm inside
 * `tf.profile`, whose `peakBytes` is the largest total of live tensor bytes after any kernel —
 * the quantity the estimate counts and the trainer's memory guard watches. The process's
 * peak RSS (which adds the runtime, the wasm heap's slack and the decoded dataset) is shown
 * beside it. Each case runs in a child process of its own, so the peaks do not mix.
 *
 *   npx tsx bench/memory-estimate.ts [--cases micro,wide-tokens,tiny-3ema,prog-stages,autoprog-search] [--json]
 */
import { fork } from "node:child_process";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { armCost } from "../src/core/run-cost.ts";
import { type ExperimentSpecInput, parseSpec } from "../src/core/spec.ts";
import { runTraining } from "../src/train/run.ts";

/** Small specs, each under a minute on one wasm thread: two training steps per epoch and an evaluation. */
const CASES: Record<string, ExperimentSpecInput> = {
  // The CI-sized model at its default shape (50 tokens), two EMAs.
  micro: {
    name: "micro",
    dataset: { name: "mnist", trainLimit: 64, testLimit: 64 },
    model: { variant: "micro" },
    training: { epochs: 1, batchSize: 32, evalBatchSize: 64, warmupEpochs: 0 },
  },
  // Attention-bound: 2-px patches give 197 tokens, so [B, H, N, N] dominates.
  "wide-tokens": {
    name: "wide-tokens",
    dataset: { name: "mnist", trainLimit: 16, testLimit: 32 },
    model: { variant: "micro", patchSize: 2, width: 128, depth: 4, heads: 4 },
    training: { epochs: 1, batchSize: 8, evalBatchSize: 32, warmupEpochs: 0 },
  },
  // Parameter-bound: a wider, deeper model at few tokens, three EMAs.
  "tiny-3ema": {
    name: "tiny-3ema",
    dataset: { name: "fashion-mnist", trainLimit: 32, testLimit: 16 },
    model: { variant: "tiny", depth: 6 },
    training: {
      epochs: 1,
      batchSize: 16,
      evalBatchSize: 16,
      warmupEpochs: 0,
      ema: [
        { name: "fast", horizon: 0.02 },
        { name: "slow", horizon: 0.08 },
        { name: "slower", horizon: 0.2 },
      ],
    },
  },
  // A growing arm: four stages of one epoch, the largest step and evaluation reached in the last.
  "prog-stages": {
    name: "prog-stages",
    dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
    model: { variant: "micro" },
    training: { epochs: 4, stages: 4, batchSize: 32, evalBatchSize: 32, warmupEpochs: 0 },
    arms: [{ arm: "prog" }],
  },
  // A searched arm: the supernet phase keeps its image subset while it trains and scores candidates.
  "autoprog-search": {
    name: "autoprog-search",
    dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
    model: { variant: "micro" },
    training: { epochs: 2, stages: 2, batchSize: 16, evalBatchSize: 32, warmupEpochs: 0 },
    arms: [{ arm: "autoprog", supernetMinSteps: 2, search: { subsetSize: 64, points: 2 } }],
  },
};

const { values } = parseArgs({
  options: {
    cases: { type: "string", default: Object.keys(CASES).join(",") },
    case: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

interface Measured {
  readonly case: string;
  readonly estimateBytes: number;
  readonly peakTensorBytes: number;
  readonly maxRssBytes: number;
  readonly seconds: number;
}

async function measure(name: string): Promise<Measured> {
  const input = CASES[name];
  if (!input) throw new Error(`no case ${name}; cases: ${Object.keys(CASES).join(", ")}`);
  const spec = parseSpec({ ...input, backend: "wasm" });
  const arm = spec.arms[0];
  if (!arm) throw new Error("the spec has no arm");
  const estimate = armCost(spec, arm).memory.bytes;
  const started = performance.now();
  const profile = await tf.profile(async () => {
    await runTraining(spec, { checkpoints: null });
  });
  return {
    case: name,
    estimateBytes: estimate,
    peakTensorBytes: profile.peakBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    seconds: (performance.now() - started) / 1000,
  };
}

function inChild(name: string): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1] as string, ["--case", name], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    child.on("message", (message) => resolve(message as Measured));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`case ${name} exited with ${code}`));
    });
  });
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

if (values.case) {
  const result = await measure(values.case);
  process.send?.(result);
} else {
  const rows: Measured[] = [];
  for (const name of (values.cases ?? "").split(",").filter(Boolean)) rows.push(await inChild(name));
  if (values.json) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  } else {
    console.log("| case | estimate MB | peak tensor MB | estimate / peak | peak RSS MB | seconds |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (const r of rows) {
      const ratio = (r.estimateBytes / r.peakTensorBytes).toFixed(2);
      console.log(
        `| ${r.case} | ${mb(r.estimateBytes)} | ${mb(r.peakTensorBytes)} | ${ratio} | ${mb(r.maxRssBytes)} | ${r.seconds.toFixed(1)} |`,
      );
    }
  }
}
