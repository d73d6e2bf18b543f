import type * as tf from "@tensorflow/tfjs";
import type { ViTConfig } from "../model/config.ts";
import { type DepthMap, type GrowthOperator, insertedBlocks } from "../model/depth-map.ts";
import { growWeights, restoreWeights, sameDepth } from "../model/growth.ts";
import { disposeWeights, initWeights, isDecayed } from "../model/params.ts";
import { decodeTensors, encodeTensors, type HostTensor, takeGroup, withPrefix } from "../model/weights-io.ts";
import { ADAMW_DEFAULTS, AdamW } from "./adamw.ts";
import type { Checkpoint, CheckpointStore } from "./checkpoint.ts";
import {
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  type PersistedState,
  persistedPart,
} from "./checkpoint-meta.ts";
import { decayForHorizon, EmaCopy } from "./ema.ts";
import { FlatLayout } from "./flat.ts";
import { ViTConfigSchema } from "./meta-schemas.ts";

/**
 * Everything a run carries from step to step, and exactly what a checkpoint holds: the persisted
 * part as JSON meta, the tensors (weights, EMA copies, optimizer moments) as its data.
 */
export interface ModelState extends PersistedState {
  readonly config: ViTConfig;
  weights: Map<string, tf.Variable>;
  readonly optimizer: AdamW;
  readonly emas: EmaCopy[];
}

export interface StateOptions {
  readonly seed: number;
  /** Initial values by weight name (a spec's `init`); the rest start fresh. */
  readonly initial?: ReadonlyMap<string, HostTensor>;
  readonly ema: readonly { name: string; horizon: number }[];
  readonly stageSteps: number;
  readonly weightDecay: number;
}

function newOptimizer(weightDecay: number): AdamW {
  return new AdamW({ ...ADAMW_DEFAULTS, weightDecay, decayed: isDecayed });
}

export function createModelState(
  config: ViTConfig,
  depth: number,
  side: number,
  options: StateOptions,
): ModelState {
  const weights = initWeights(config, depth, options.seed, options.initial);
  return {
    config,
    depth,
    activeBlocks: Array.from({ length: depth }, () => true),
    side,
    stage: -1,
    growths: 0,
    weights,
    optimizer: newOptimizer(options.weightDecay),
    emas: options.ema.map(
      (e) => new EmaCopy(e.name, decayForHorizon(e.horizon, options.stageSteps), weights),
    ),
    epoch: 0,
    step: 0,
    history: [],
    stages: [],
    supernet: null,
    search: [],
    searchSeconds: 0,
    supernetSeconds: 0,
    costTable: {},
    wallSeconds: 0,
    cpuSeconds: 0,
    trainSeconds: 0,
    flopsSum: 0,
    epochProgress: null,
    lossScale: null,
  };
}

export interface GrowthRequest {
  readonly map: DepthMap;
  readonly operator: GrowthOperator;
  /** The EMA that MoGrow takes the online weights from. */
  readonly momentumEma: string;
  readonly carryOptimizerState: boolean;
  readonly seed: number;
}

/**
 * Grows the online weights, every EMA (each from itself) and optionally the optimizer moments
 * through one depth map; the old tensors are released. MoGrow takes the online weights from
 * the grown momentum network.
 */
export function growState(state: ModelState, request: GrowthRequest): void {
  const { map, operator } = request;
  state.growths += 1;
  const options = {
    seed: request.seed,
    salt: state.growths,
    zeroResidual: operator === "identity" ? insertedBlocks(map) : [],
  };
  const momentum = state.emas.find((e) => e.name === request.momentumEma);
  if (operator === "mogrow" && !momentum) throw new Error(`MoGrow needs the EMA "${request.momentumEma}"`);
  const source = operator === "mogrow" && momentum ? momentum.weights : state.weights;
  const online = growWeights(state.config, source, map, options);
  for (const ema of state.emas) {
    const grown = growWeights(state.config, ema.weights, map, options);
    ema.replace(grown);
    disposeWeights(grown);
  }
  const { optimizer } = state;
  if (request.carryOptimizerState) {
    const { first, second } = optimizer.moments();
    const carried = { ...options, zeroResidual: [], partial: true };
    const grownFirst = growWeights(state.config, first, map, carried);
    const grownSecond = growWeights(state.config, second, map, carried);
    optimizer.loadMoments(FlatLayout.of(online), grownFirst, grownSecond);
    for (const t of [first, second, grownFirst, grownSecond]) disposeWeights(t);
  } else optimizer.reset();
  disposeWeights(state.weights);
  state.weights = online;
  state.depth = map.length;
  state.activeBlocks = Array.from({ length: map.length }, () => true);
}

/**
 * Sets an untrained model to a smaller architecture by keeping its first blocks (stage 0 of a
 * search whose supernet ran on a copy). A parameter's initial values follow from its name and
 * the seed, so this is the model a run created at that architecture starts from. Not a growth:
 * the count stays.
 */
export function shrinkInitialModel(state: ModelState, to: { depth: number; side: number }): void {
  if (state.step !== 0) throw new Error("only an untrained model can be shrunk");
  if (to.depth < state.depth) {
    const growths = state.growths;
    growState(state, {
      map: sameDepth(to.depth),
      operator: "interpolation",
      momentumEma: "",
      carryOptimizerState: false,
      seed: 0,
    });
    state.growths = growths;
  }
  state.side = to.side;
}

export function restoreModelState(
  config: ViTConfig,
  checkpoint: Checkpoint,
  weightDecay: number,
): ModelState {
  const { meta, tensors } = checkpoint;
  if (!sameConfig(meta.config, config)) throw new Error("the checkpoint holds another architecture");
  const weights = restoreWeights(config, meta.depth, takeGroup(tensors, "online"));
  const emas = Object.entries(meta.emaDecays).map(([name, decay]) => {
    const restored = restoreWeights(config, meta.depth, takeGroup(tensors, `ema/${name}`));
    const copy = new EmaCopy(name, decay, restored);
    disposeWeights(restored);
    return copy;
  });
  const optimizer = newOptimizer(weightDecay);
  optimizer.step = meta.optimizerStep;
  // A partial restore: weights without saved moments (never updated) start at zero.
  const [first, second] = ["adam.m", "adam.v"].map((group) =>
    restoreWeights(config, meta.depth, takeGroup(tensors, group), { partial: true }),
  ) as [Map<string, tf.Variable>, Map<string, tf.Variable>];
  optimizer.loadMoments(FlatLayout.of(weights), first, second);
  disposeWeights(first);
  disposeWeights(second);
  return { ...persistedPart(meta), config, weights, optimizer, emas };
}

function sameConfig(a: ViTConfig, b: ViTConfig): boolean {
  // The VOLO and ResNet shapes are nested (the ResNet's holds arrays): compared by value.
  const same = (x: unknown, y: unknown): boolean => {
    if (x === y) return true;
    if (typeof x !== "object" || typeof y !== "object" || x === null || y === null) return false;
    const [p, q] = [x as Record<string, unknown>, y as Record<string, unknown>];
    const keys = new Set([...Object.keys(p), ...Object.keys(q)]);
    return [...keys].every((key) => same(p[key], q[key]));
  };
  return ViTConfigSchema.keyof().options.every((key) => same(a[key], b[key]));
}

export async function saveModelState(
  store: CheckpointStore,
  state: ModelState,
  run: { arm: string; seed: number; specHash: string },
): Promise<string> {
  const { meta, data } = await encodeModelState(state, run);
  return store.save(meta, data);
}

/**
 * An independent copy of the state (tensors and bookkeeping), made the way a checkpoint is
 * written and read back, so it continues exactly as the original would.
 */
export async function copyModelState(state: ModelState, weightDecay: number): Promise<ModelState> {
  const { meta, data } = await encodeModelState(state, { arm: "", seed: 0, specHash: "" });
  return restoreModelState(
    state.config,
    { meta: structuredClone(meta), tensors: decodeTensors(meta.index, data) },
    weightDecay,
  );
}

async function encodeModelState(
  state: ModelState,
  run: { arm: string; seed: number; specHash: string },
): Promise<{ meta: CheckpointMeta; data: Uint8Array }> {
  const moments = state.optimizer.moments();
  const groups = new Map<string, tf.Tensor>([
    ...withPrefix("online", state.weights),
    ...state.emas.flatMap((e) => [...withPrefix(`ema/${e.name}`, e.weights)]),
    ...withPrefix("adam.m", moments.first),
    ...withPrefix("adam.v", moments.second),
  ]);
  const { index, data } = await encodeTensors(groups).finally(() => {
    disposeWeights(moments.first);
    disposeWeights(moments.second);
  });
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    ...run,
    ...persistedPart(state),
    optimizerStep: state.optimizer.step,
    emaDecays: Object.fromEntries(state.emas.map((e) => [e.name, e.decay])),
    index,
  };
  return { meta, data };
}

export function disposeModelState(state: ModelState): void {
  disposeWeights(state.weights);
  state.optimizer.dispose();
  for (const ema of state.emas) ema.dispose();
}
