import { planArm } from "../src/core/plan.ts";
import { armLabel, type ExperimentSpec } from "../src/core/spec.ts";
import type { ExperimentRow, NewRun, NewStage } from "./experiments.ts";
import { newId } from "./ids.ts";
import type { RunRow, StageRow } from "./runs.ts";

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

/**
 * The rows of a fork (`POST /v1/runs/{id}/fork`): a queued run of the parent's experiment that
 * starts from the parent's checkpoint after `forkEpoch` epochs, training `spec` (one arm); the
 * parent's stages closed by then, the parent's metrics of those epochs, and its own plan's later
 * stages. Its metrics of those epochs are the parent's rows, copied by forkStatements.
 */
export function forkRows(
  parent: RunRow,
  fork: { id: string; label: string; position: number; forkEpoch: number; spec: ExperimentSpec },
  parentStages: readonly StageRow[],
  now: number,
): { run: RunRow; stages: NewStage[] } {
  const arm = fork.spec.arms[0];
  if (!arm) throw new Error("a fork's spec has one arm");
  const run: RunRow = {
    ...queuedRun({
      id: fork.id,
      experimentId: parent.experimentId,
      arm: arm.arm,
      label: fork.label,
      seed: parent.seed,
      position: fork.position,
      backendRequested: fork.spec.backend,
      epochs: fork.spec.training.epochs,
      createdAt: now,
      updatedAt: now,
    }),
    epochsCompleted: fork.forkEpoch,
    checkpointEpoch: fork.forkEpoch,
    parentRunId: parent.id,
    forkEpoch: fork.forkEpoch,
    spec: fork.spec,
  };
  const closed = parentStages.filter((s) => s.startEpoch + s.epochs <= fork.forkEpoch);
  const stages: NewStage[] = closed.map(({ runId: _, ...stage }) => ({ ...stage, runId: run.id }));
  for (const s of planArm(fork.spec, arm).stages) {
    if (closed.some((c) => c.stage === s.stage)) continue;
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
  return { run, stages };
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
    parentRunId: null,
    forkEpoch: null,
    spec: null,
    startedAt: null,
    finishedAt: null,
  };
}
