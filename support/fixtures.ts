import type { BackendReport, EventOfType, FailureReason, TrainingEvent } from "../src/core/events.ts";

/**
 * Synthetic trainer events for driving the sink without tensors, typed by the one contract
 * (src/core/events.ts). Shared by tests and benchmarks.
 */
export type FakeEvent = TrainingEvent;

const backend: BackendReport = {
  name: "wasm",
  package: "@tensorflow/tfjs-backend-wasm",
  threads: 1,
  device: "cpu",
  gpu: false,
};

export const runStarted = (startEpoch = 0, epochs = 4): EventOfType<"run.started"> => ({
  type: "run.started",
  arm: "autoprog",
  seed: 0,
  backend,
  epochs,
  stepsPerEpoch: 4,
  trainImages: 128,
  testImages: 64,
  parameters: 1000,
  flopsFull: 2e6,
  startEpoch,
});

export const stageStarted = (
  stage: number,
  depth: number,
  side: number,
  startEpoch = stage * 2,
): EventOfType<"stage.started"> => ({
  type: "stage.started",
  stage,
  startEpoch,
  epochs: 2,
  depth,
  side,
  tokens: (side / 7) ** 2 + 1,
});

export const stageGrown = (stage: number): EventOfType<"stage.grown"> => ({
  type: "stage.grown",
  stage,
  from: { depth: 1, side: 14, tokens: 5 },
  to: { depth: 2, side: 28, tokens: 17 },
  operator: "mogrow",
  parametersBefore: 500,
  parametersAfter: 1000,
  flopsBefore: 1e5,
  flopsAfter: 6e5,
  secondsSoFar: 1.5,
});

const candidates = [
  { depth: 1, side: 14, tokens: 5 },
  { depth: 2, side: 14, tokens: 5 },
  { depth: 2, side: 28, tokens: 17 },
];

export const searchStarted = (stage: number): EventOfType<"stage.search.started"> => ({
  type: "stage.search.started",
  stage,
  startEpoch: stage * 2,
  supernetEpochs: 2,
  supernetSteps: 8,
  candidates,
});

export const searchCompleted = (stage: number): EventOfType<"stage.search.completed"> => ({
  type: "stage.search.completed",
  stage,
  candidates: candidates.map((c, i) => ({
    ...c,
    loss: 2 - i * 0.1,
    cost: 0.01 * (i + 1),
    score: 1 + i,
    chosen: i === 0,
    // The paired rule: index 2 has the lowest loss; the others are within 2 SE, index 0 is cheapest.
    meanDifference: 0.2 - i * 0.1,
    standardError: i === 2 ? 0 : 0.15,
    tied: true,
  })),
  a1: -0.2,
  w: 0.2,
  cost: "time",
  selection: "paired",
  z: 2,
  tolerance: 0,
  sideFloor: "none",
  winnerWeights: "supernet",
  winner: { depth: 1, side: 14 },
  searchSeconds: 0.5,
  timedArchitectures: 3,
  supernetEpochs: 2,
  supernetSteps: 8,
});

export const epochCompleted = (epoch: number, best = 0.5 + epoch / 10): EventOfType<"epoch.completed"> => ({
  type: "epoch.completed",
  epoch,
  phase: "train",
  step: (epoch + 1) * 4,
  trainLoss: 2 - epoch / 10,
  trainAccuracy: 0.3,
  lr: 1e-3,
  batchSize: 16,
  steps: 4,
  imagesPerSecond: 100,
  epochSeconds: 1,
  flopsPerImage: 6e5,
  architecture: { depth: 2, side: 28, tokens: 17 },
  evaluation: { online: best - 0.01, ema: { fast: best - 0.02, slow: best }, best, bestSource: "slow" },
  lossScale: null,
  skippedSteps: 0,
});

export const checkpointSaved = (epoch: number): EventOfType<"checkpoint.saved"> => ({
  type: "checkpoint.saved",
  epoch,
  step: epoch * 4,
  location: `/tmp/epoch-${epoch}.json`,
});

export const runCompleted = (
  result: { top1?: number; trainSeconds?: number; flopsPerStepMean?: number; searchSeconds?: number } = {},
): EventOfType<"run.completed"> => ({
  type: "run.completed",
  result: {
    arm: "autoprog",
    seed: 0,
    backend,
    epochs: 4,
    steps: 16,
    top1: result.top1 ?? 0.8,
    bestTop1: (result.top1 ?? 0.8) + 0.01,
    wallSeconds: (result.trainSeconds ?? 10) + 2,
    cpuSeconds: (result.trainSeconds ?? 10) + 2,
    trainSeconds: result.trainSeconds ?? 10,
    flopsPerStepMean: result.flopsPerStepMean ?? 4e5,
    flopsFull: 6e5,
    parameters: 1000,
    history: [],
    stages: [],
    schedule: [],
    search: [],
    searchSeconds: result.searchSeconds ?? 0,
    supernetSeconds: 0,
    searchShare: (result.searchSeconds ?? 0) / ((result.trainSeconds ?? 10) + 2),
    supernetShare: 0,
    costTable: [{ depth: 1, side: 14, batch: 64, seconds: 0.01 }],
    sideEvaluations: [],
    lossScale: null,
    skippedSteps: 0,
  },
});

export const runFailed = (reason: FailureReason, message = "stopped"): EventOfType<"run.failed"> => ({
  type: "run.failed",
  reason,
  message,
  epoch: null,
  step: null,
});

/** A spec small enough to train in seconds (the same model as the trainer's tests). */
export function tinySpec(overrides: Record<string, unknown> = {}) {
  return {
    name: "tiny",
    dataset: { name: "mnist", trainLimit: 128, testLimit: 64 },
    model: { variant: "micro", patchSize: 7, width: 32, depth: 2, heads: 2, mlpRatio: 2 },
    training: { epochs: 2, batchSize: 32, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 64 },
    backend: "wasm",
    ...overrides,
  };
}

/** A queued `original` run row of experiment `exp_1`, as the create route would insert it. */
export const queuedRunRow = (id: string, position: number) => ({
  id,
  experimentId: "exp_1",
  arm: "original",
  label: "original",
  seed: position,
  position,
  backendRequested: "wasm",
  epochs: 2,
  createdAt: 1,
  updatedAt: 1,
});
