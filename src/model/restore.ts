import type * as tf from "@tensorflow/tfjs";
import type { ParamSpec } from "./params.ts";
import { createVariable } from "./params.ts";
import type { HostTensor } from "./weights-io.ts";

/**
 * Builds variables for exactly the expected parameters from loaded values. Any missing name,
 * unexpected name or shape mismatch throws: a silent partial load is how training quietly
 * restarts from noise.
 */
export function restoreWeights(
  expected: readonly ParamSpec[],
  loaded: ReadonlyMap<string, HostTensor>,
): Map<string, tf.Variable> {
  const problems: string[] = [];
  const expectedNames = new Set(expected.map((spec) => spec.name));
  for (const name of loaded.keys()) if (!expectedNames.has(name)) problems.push(`unexpected ${name}`);
  for (const spec of expected) {
    const value = loaded.get(spec.name);
    if (!value) problems.push(`missing ${spec.name}`);
    else if (value.shape.join("x") !== spec.shape.join("x")) {
      problems.push(`${spec.name} has shape [${value.shape}] but the model needs [${spec.shape}]`);
    }
  }
  if (problems.length > 0) throw new Error(`weights do not match the architecture: ${problems.join("; ")}`);
  const weights = new Map<string, tf.Variable>();
  for (const spec of expected)
    weights.set(spec.name, createVariable(spec, (loaded.get(spec.name) as HostTensor).values));
  return weights;
}
