import * as tf from "@tensorflow/tfjs";
import { createRandom, mixSeed, randomNormal } from "../core/random.ts";
import { resnetShapeOf, tokenCount, type ViTConfig, voloShapeOf } from "./config.ts";
import type { ParamSpec } from "./param-spec.ts";
import { resnetBlockParamSpecs, resnetStemAndHeadParamSpecs } from "./resnet-params.ts";
import { isOutlooker, outlookerParamSpecs, voloStemAndHeadParamSpecs } from "./volo-params.ts";

export type { Init, ParamSpec } from "./param-spec.ts";

/** Named tensors of a model; forward passes accept the online variables or any EMA copy. */
export type WeightMap = ReadonlyMap<string, tf.Tensor>;

/** Decoupled weight decay applies to matrices, which are exactly the weights named `*.w`. */
export const isDecayed = (name: string): boolean => name.endsWith(".w");

export const blockPrefix = (index: number): string => `blocks.${index}.`;

/**
 * The parameters of growable block `index` of a model holding `depth` blocks, named under
 * `blocks.{index}.`: a transformer block, or for VOLO an outlooker while index < o(depth).
 */
export function blockParamSpecs(config: ViTConfig, index: number, depth: number): ParamSpec[] {
  if (resnetShapeOf(config)) return resnetBlockParamSpecs(config, index, depth, blockPrefix(index));
  if (isOutlooker(config, index, depth)) return outlookerParamSpecs(config, blockPrefix(index));
  const d = config.width;
  const hidden = config.mlpRatio * d;
  const p = blockPrefix(index);
  return [
    { name: `${p}norm1.gamma`, shape: [d], init: "ones", decay: false },
    { name: `${p}norm1.beta`, shape: [d], init: "zeros", decay: false },
    { name: `${p}attn.qkv.w`, shape: [d, 3 * d], init: "truncNormal", decay: true },
    { name: `${p}attn.qkv.b`, shape: [3 * d], init: "zeros", decay: false },
    { name: `${p}attn.proj.w`, shape: [d, d], init: "truncNormal", decay: true },
    { name: `${p}attn.proj.b`, shape: [d], init: "zeros", decay: false },
    { name: `${p}norm2.gamma`, shape: [d], init: "ones", decay: false },
    { name: `${p}norm2.beta`, shape: [d], init: "zeros", decay: false },
    { name: `${p}mlp.fc1.w`, shape: [d, hidden], init: "truncNormal", decay: true },
    { name: `${p}mlp.fc1.b`, shape: [hidden], init: "zeros", decay: false },
    { name: `${p}mlp.fc2.w`, shape: [hidden, d], init: "truncNormal", decay: true },
    { name: `${p}mlp.fc2.b`, shape: [d], init: "zeros", decay: false },
  ];
}

/** Parameters outside the blocks: copied unchanged by every growth operator. */
export function stemAndHeadParamSpecs(config: ViTConfig): ParamSpec[] {
  if (voloShapeOf(config)) return voloStemAndHeadParamSpecs(config);
  if (resnetShapeOf(config)) return resnetStemAndHeadParamSpecs(config);
  const d = config.width;
  const patchIn = config.patchSize * config.patchSize * config.channels;
  return [
    { name: "embed.patch.w", shape: [patchIn, d], init: "truncNormal", decay: true },
    { name: "embed.patch.b", shape: [d], init: "zeros", decay: false },
    { name: "embed.cls", shape: [1, d], init: "truncNormal", decay: false },
    // One table for the full grid (+1 for the class token); resized for smaller inputs.
    {
      name: "embed.pos",
      shape: [tokenCount(config, config.imageSize), d],
      init: "truncNormal",
      decay: false,
    },
    { name: "norm.gamma", shape: [d], init: "ones", decay: false },
    { name: "norm.beta", shape: [d], init: "zeros", decay: false },
    { name: "head.w", shape: [d, config.numClasses], init: "truncNormal", decay: true },
    { name: "head.b", shape: [config.numClasses], init: "zeros", decay: false },
  ];
}

/** All parameter specs of a model holding `depth` blocks, in a stable order. */
export function paramSpecs(config: ViTConfig, depth: number): ParamSpec[] {
  const specs = stemAndHeadParamSpecs(config);
  for (let i = 0; i < depth; i++) specs.push(...blockParamSpecs(config, i, depth));
  return specs;
}

function nameHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) | 0;
  return h;
}

const TRUNC_STD = 0.02;

/**
 * Initial values in plain JS from a seeded generator, so that initialisation is identical on
 * every backend. `salt` distinguishes re-initialisations of the same name (randinit growth).
 */
export function initialValues(spec: ParamSpec, seed: number, salt = 0): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  if (spec.init === "ones") values.fill(1);
  if (spec.init !== "truncNormal") return values;
  const random = createRandom(mixSeed(seed, nameHash(spec.name), salt));
  for (let i = 0; i < size; i++) {
    let z = randomNormal(random);
    while (Math.abs(z) > 2) z = randomNormal(random);
    values[i] = z * TRUNC_STD;
  }
  return values;
}

export function createVariable(spec: ParamSpec, values: Float32Array): tf.Variable {
  // No variable name: tfjs names are global, and EMA copies and grown models reuse ours.
  const initial = tf.tensor(values, [...spec.shape], "float32");
  const variable = tf.variable(initial, true);
  initial.dispose();
  return variable;
}

/**
 * Fresh trainable variables for a model holding `depth` blocks; a weight `initial` holds under its
 * name with the same shape starts from those values instead (fine-tuning from another run).
 */
export function initWeights(
  config: ViTConfig,
  depth: number,
  seed: number,
  initial?: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float32Array }>,
): Map<string, tf.Variable> {
  const weights = new Map<string, tf.Variable>();
  for (const spec of paramSpecs(config, depth)) {
    const given = initial?.get(spec.name);
    const fits = given !== undefined && given.shape.join("x") === spec.shape.join("x");
    weights.set(spec.name, createVariable(spec, fits ? given.values : initialValues(spec, seed)));
  }
  return weights;
}

/** A variable holding a copy of `tensor`'s values (the source stays untouched). */
export function copyToVariable(tensor: tf.Tensor, trainable = true): tf.Variable {
  const copy = tensor.clone();
  const variable = tf.variable(copy, trainable);
  copy.dispose(); // the variable holds its own reference to the data
  return variable;
}

export function requireWeight(weights: WeightMap, name: string): tf.Tensor {
  const tensor = weights.get(name);
  if (!tensor) throw new Error(`missing weight ${name}`);
  return tensor;
}

export function disposeWeights(weights: ReadonlyMap<string, tf.Tensor>): void {
  for (const tensor of weights.values()) tensor.dispose();
}
