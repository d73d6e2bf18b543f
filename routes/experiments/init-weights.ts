import type { Context } from "hono";
import { isRunInProject } from "../../db/runs.ts";
import { availableWeights } from "../../src/checkpoints/model-export.ts";
import { packCheckpoint, unpackCheckpoint } from "../../src/checkpoints/wire.ts";
import { INIT_SPEC_HASH_PREFIX } from "../../src/core/checkpoint-layout.ts";
import { modelConfigOf } from "../../src/core/plan.ts";
import type { ExperimentSpec } from "../../src/core/spec.ts";
import type { AppEnv } from "../../src/services.ts";
import { ProblemError } from "../common/problem.ts";
import { checkpointStoreOf } from "../workers/lease-state.ts";

/** What must match between the source run's model and the new one; the class count may differ. */
const SHARED = ["imageSize", "patchSize", "channels", "width", "heads", "mlpRatio"] as const;

const invalid = (path: string, message: string) =>
  new ProblemError("validation_failed", message, [{ location: "body", path, message }]);

/**
 * The checkpoint a spec's `init` starts each run from, packed as the run's epoch-0 checkpoint:
 * the source run's newest, marked `init:<weights>` so the trainer takes that weight set as its
 * initial weights and starts fresh otherwise (src/train/init-weights.ts). Null without `init`;
 * 422 naming `init.fromRun` or `init.weights` when the source cannot serve.
 */
export async function initCheckpoint(
  c: Pick<Context<AppEnv>, "get">,
  spec: ExperimentSpec,
): Promise<Uint8Array | null> {
  if (!spec.init) return null;
  const { fromRun, weights } = spec.init;
  if (!(await isRunInProject(c.get("services").db, fromRun, c.get("projectId"))))
    throw invalid("init.fromRun", `no run ${fromRun} in this project`);
  const store = checkpointStoreOf(c);
  const newest = (await store.list(fromRun)).at(-1);
  const body = newest ? await store.get(fromRun, newest.epoch) : null;
  if (!body) throw invalid("init.fromRun", `run ${fromRun} holds no checkpoint to start from`);
  const parts = unpackCheckpoint(body);
  const available = availableWeights(parts);
  if (!available.includes(weights))
    throw invalid("init.weights", `run ${fromRun} has no ${weights} weights; it has ${available.join(", ")}`);
  const meta = JSON.parse(new TextDecoder().decode(parts.meta)) as { config: Record<string, unknown> };
  const config = modelConfigOf(spec);
  const differing = SHARED.filter((key) => meta.config[key] !== config[key]);
  if (differing.length > 0)
    throw invalid(
      "init.fromRun",
      `run ${fromRun}'s model differs in ${differing.map((k) => `${k} (${meta.config[k]}, here ${config[k]})`).join(", ")}`,
    );
  const marked = { ...meta, specHash: `${INIT_SPEC_HASH_PREFIX}${weights}`, epoch: 0 };
  return packCheckpoint({ ...parts, meta: new TextEncoder().encode(JSON.stringify(marked)) });
}
