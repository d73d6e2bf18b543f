import { planArm } from "../src/core/plan.ts";
import { armLabel, type ExperimentSpec } from "../src/core/spec.ts";
import type { ExperimentRow, NewRun, NewStage } from "./experiments.ts";
import { newId } from "./ids.ts";
import type { RunRow } from "./runs.ts";

/** The rows of a new experiment: runs for every arm × seed, each with its planned stages. */
export function experimentRows(
  spec: ExperimentSpec,
  now: number,
  projectId: string,
): { experiment: ExperimentRow; runs: RunRow[]; stages: NewStage[] } {
  const id = newId("exp", now);
  const runs: RunRow[] = [];
  const stages: NewStage[] = [];
  for (const arm of spec.arms) {
    const plan = planArm(spec, arm);
    for (const seed of spec.seeds) {
      const run = queuedRun({
        id: newId("run", now),
        experimentId: id,
        arm: arm.arm,
        label: armLabel(arm),
        seed,
        position: runs.length,
        backendRequested: spec.backend,
        epochs: spec.training.epochs,
        createdAt: now,
        updatedAt: now,
      });
      runs.push(run);
      for (const s of plan.stages) {
        stages.push({
          runId: run.id,
          stage: s.stage,
          startEpoch: s.startEpoch,
          epochs: s.epochs,
          depth: s.architecture?.depth ?? null,
          side: s.architecture?.side ?? null,
          tokens: s.architecture?.tokens ?? null,
          flopsPerImage: s.architecture?.flopsPerImage ?? null,
        });
      }
    }
  }
  const experiment = {
    id,
    projectId,
    name: spec.name,
    description: spec.description ?? null,
    spec,
    tags: [],
    note: null,
    createdAt: now,
  };
  return { experiment, runs, stages };
}

type RunIdentity = Required<
  Pick<
    NewRun,
    | "id"
    | "experimentId"
    | "arm"
    | "label"
    | "seed"
    | "position"
    | "backendRequested"
    | "epochs"
    | "createdAt"
    | "updatedAt"
  >
>;

/** A queued run with every column a fresh row has, so the 201 body is exactly what GET returns. */
function queuedRun(fields: RunIdentity): RunRow {
  return {
    ...fields,
    state: "queued",
    attempt: 0,
    cancelRequested: false,
    pauseRequested: false,
    leaseOwner: null,
    leaseExpiresAt: null,
    backend: null,
    epochsCompleted: 0,
    checkpointEpoch: null,
    lastSeq: 0,
    top1: null,
    bestTop1: null,
    wallSeconds: null,
    trainSeconds: null,
    flopsPerImageMean: null,
    flopsFull: null,
    failureReason: null,
    failureMessage: null,
    result: null,
    tags: [],
    note: null,
    startedAt: null,
    finishedAt: null,
  };
}
