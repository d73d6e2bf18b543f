import { type BackendInfo, BackendSetupError, initBackend } from "../backend/select.ts";
import { modelConfigOf } from "../core/plan.ts";
import type { ExperimentSpec } from "../core/spec.ts";
import { type ImageDataset, loadDataset } from "../data/dataset.ts";
import type { ViTConfig } from "../model/config.ts";
import type { RunOptions } from "./run-options.ts";

/** What a run needs before its first step: the backend, both splits and the architecture. */
export interface Setup {
  readonly backend: BackendInfo;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  readonly config: ViTConfig;
}

export async function prepare(
  spec: ExperimentSpec,
  options: Pick<RunOptions, "backend" | "cacheDir">,
): Promise<Setup> {
  const preference = options.backend ?? spec.backend;
  const backend = await initBackend({ preference, requireGpu: spec.requireGpu }).catch((error: unknown) => {
    throw error instanceof BackendSetupError ? error : new BackendSetupError(String(error));
  });
  const load = (split: "train" | "test", limit: number | undefined) =>
    loadDataset(spec.dataset.name, split, {
      ...(limit !== undefined ? { limit } : {}),
      ...(spec.dataset.root !== undefined ? { root: spec.dataset.root } : {}),
      ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    });
  const [train, test] = await Promise.all([
    load("train", spec.dataset.trainLimit),
    load("test", spec.dataset.testLimit),
  ]);
  const config = modelConfigOf(spec);
  if (config.channels !== train.channels || config.numClasses !== train.numClasses) {
    throw new Error(`${spec.dataset.name} loaded as ${train.channels} channels, ${train.numClasses} classes`);
  }
  return { backend, train, test, config };
}
