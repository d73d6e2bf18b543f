import type * as tf from "@tensorflow/tfjs";
import type { EpochRecord } from "../core/events.ts";
import type { ViTConfig } from "../model/config.ts";
import { disposeWeights, initWeights, paramSpecs } from "../model/params.ts";
import { restoreWeights } from "../model/restore.ts";
import { encodeTensors, takeGroup, withPrefix } from "../model/weights-io.ts";
import { ADAMW_DEFAULTS, AdamW } from "./adamw.ts";
import type { Checkpoint, CheckpointStore } from "./checkpoint.ts";
import { createEma, decayForHorizon, disposeEma, type EmaCopy } from "./ema.ts";

/** Everything a run carries from step to step, and exactly what a checkpoint holds. */
export interface ModelState {
  readonly config: ViTConfig;
  /** Blocks the model holds. */
  depth: number;
  weights: Map<string, tf.Variable>;
  readonly optimizer: AdamW;
  readonly emas: EmaCopy[];
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken (drives the LR curve). */
  step: number;
  history: EpochRecord[];
  wallSeconds: number;
  trainSeconds: number;
  /** Σ forward FLOPs per image over all steps, for the run's mean. */
  flopsSum: number;
}

function decayedNames(config: ViTConfig, depth: number): Set<string> {
  return new Set(
    paramSpecs(config, depth)
      .filter((s) => s.decay)
      .map((s) => s.name),
  );
}

export function createModelState(
  config: ViTConfig,
  depth: number,
  seed: number,
  emaSpecs: readonly { name: string; horizon: number }[],
  stageSteps: number,
  weightDecay: number,
): ModelState {
  const weights = initWeights(config, depth, seed);
  return {
    config,
    depth,
    weights,
    optimizer: new AdamW({ ...ADAMW_DEFAULTS, weightDecay, decayed: decayedNames(config, depth) }),
    emas: emaSpecs.map((e) => createEma(e.name, decayForHorizon(e.horizon, stageSteps), weights)),
    epoch: 0,
    step: 0,
    history: [],
    wallSeconds: 0,
    trainSeconds: 0,
    flopsSum: 0,
  };
}

export function restoreModelState(
  config: ViTConfig,
  checkpoint: Checkpoint,
  weightDecay: number,
): ModelState {
  const { meta, tensors } = checkpoint;
  if (JSON.stringify(meta.config) !== JSON.stringify(config))
    throw new Error("the checkpoint holds another architecture");
  const specs = paramSpecs(config, meta.depth);
  const weights = restoreWeights(specs, takeGroup(tensors, "online"));
  const emas = Object.entries(meta.emaDecays).map(([name, decay]) => ({
    name,
    decay,
    weights: restoreWeights(specs, takeGroup(tensors, `ema/${name}`)),
  }));
  const optimizer = new AdamW({ ...ADAMW_DEFAULTS, weightDecay, decayed: decayedNames(config, meta.depth) });
  optimizer.step = meta.optimizerStep;
  // Moments exist only for weights that were updated; restore those that were saved.
  const trained = specs.filter((s) => tensors.has(`adam.m/${s.name}`));
  for (const [store, group] of [
    [optimizer.firstMoments, "adam.m"],
    [optimizer.secondMoments, "adam.v"],
  ] as const) {
    const restored = restoreWeights(trained, takeGroup(tensors, group));
    for (const [name, variable] of restored) store.set(name, variable);
  }
  return {
    config,
    depth: meta.depth,
    weights,
    optimizer,
    emas,
    epoch: meta.epoch,
    step: meta.step,
    history: [...meta.history],
    wallSeconds: meta.wallSeconds,
    trainSeconds: meta.trainSeconds,
    flopsSum: meta.flopsSum,
  };
}

export async function saveModelState(
  store: CheckpointStore,
  state: ModelState,
  run: { arm: string; seed: number; specHash: string; side: number },
): Promise<string> {
  const groups = new Map<string, tf.Tensor>([
    ...withPrefix("online", state.weights),
    ...state.emas.flatMap((e) => [...withPrefix(`ema/${e.name}`, e.weights)]),
    ...withPrefix("adam.m", state.optimizer.firstMoments),
    ...withPrefix("adam.v", state.optimizer.secondMoments),
  ]);
  const { index, data } = await encodeTensors(groups);
  return store.save(
    {
      format: "autoprog-checkpoint/1",
      arm: run.arm,
      seed: run.seed,
      specHash: run.specHash,
      epoch: state.epoch,
      step: state.step,
      optimizerStep: state.optimizer.step,
      config: state.config,
      depth: state.depth,
      side: run.side,
      emaDecays: Object.fromEntries(state.emas.map((e) => [e.name, e.decay])),
      history: state.history,
      wallSeconds: state.wallSeconds,
      trainSeconds: state.trainSeconds,
      flopsSum: state.flopsSum,
      index,
    },
    data,
  );
}

export function disposeModelState(state: ModelState): void {
  disposeWeights(state.weights);
  state.optimizer.dispose();
  for (const ema of state.emas) disposeEma(ema);
}
