import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { BatchStatement } from "../../db/batch.ts";
import type { Db } from "../../db/client.ts";
import { metrics, runs, stages } from "../../db/schema.ts";
import type { RunResult } from "../core/events.ts";
import { upsertCandidates } from "./candidates.ts";

/**
 * The tables an event updates besides run_events, as statements of the event's batch. Events
 * are read as JSON with small schemas: an event type this file does not know, or a known one
 * whose shape changed, is still stored and streamed, it just updates no table. Every statement
 * is idempotent, because it also runs when the event is a replay that the log ignores.
 */
export function derivedStatements(
  db: Db,
  runId: string,
  event: Readonly<Record<string, unknown>>,
  now: number,
): BatchStatement<unknown>[] {
  const statements: BatchStatement<unknown>[] = [];
  const add = <T>(schema: z.ZodType<T>, build: (value: T) => BatchStatement<unknown>[]) => {
    const parsed = schema.safeParse(event);
    if (parsed.success) statements.push(...build(parsed.data));
  };
  switch (event.type) {
    case "run.started":
      add(RunStarted, (e) => [
        db
          .update(runs)
          .set({ backend: e.backend, epochs: e.epochs, updatedAt: now })
          .where(eq(runs.id, runId))
          .returning({ id: runs.id }),
      ]);
      break;
    case "epoch.completed":
      add(EpochCompleted, (e) => [
        db
          .update(runs)
          .set({
            epochsCompleted: sql`max(${runs.epochsCompleted}, ${e.epoch + 1})`,
            ...(e.evaluation
              ? {
                  top1: e.evaluation.best,
                  bestTop1: sql`max(coalesce(${runs.bestTop1}, 0), ${e.evaluation.best})`,
                }
              : {}),
            updatedAt: now,
          })
          .where(eq(runs.id, runId))
          .returning({ id: runs.id }),
        db
          .insert(metrics)
          .values(
            Object.entries(epochMetrics(e)).map(([key, value]) => ({
              runId,
              key,
              value,
              step: e.step,
              epoch: e.epoch,
            })),
          )
          .onConflictDoNothing()
          .returning({ key: metrics.key }),
      ]);
      break;
    case "checkpoint.saved":
      add(CheckpointSaved, (e) => [
        db
          .update(runs)
          .set({
            checkpointEpoch: sql`max(coalesce(${runs.checkpointEpoch}, 0), ${e.epoch})`,
            updatedAt: now,
          })
          .where(eq(runs.id, runId))
          .returning({ id: runs.id }),
      ]);
      break;
    case "stage.started":
      add(StageStarted, (e) => [
        db
          .update(stages)
          .set({ state: "completed" })
          .where(and(eq(stages.runId, runId), lt(stages.stage, e.stage), eq(stages.state, "running")))
          .returning({ stage: stages.stage }),
        upsertStage(db, runId, { ...e, state: "running", startedAt: now }),
      ]);
      break;
    case "stage.grown":
      add(StageGrown, (e) => [
        db
          .update(stages)
          .set({ operator: e.operator, growth: event as Record<string, unknown> })
          .where(and(eq(stages.runId, runId), eq(stages.stage, e.stage)))
          .returning({ stage: stages.stage }),
      ]);
      break;
    case "run.completed":
      add(RunCompleted, (e) => [
        db
          .update(runs)
          .set({
            state: "completed",
            result: (event as { result: RunResult }).result,
            top1: e.result.top1,
            bestTop1: e.result.bestTop1,
            wallSeconds: e.result.wallSeconds,
            trainSeconds: e.result.trainSeconds,
            flopsPerImageMean: e.result.flopsPerStepMean,
            flopsFull: e.result.flopsFull,
            epochsCompleted: e.result.epochs,
            finishedAt: now,
            updatedAt: now,
          })
          .where(and(eq(runs.id, runId), eq(runs.state, "running")))
          .returning({ id: runs.id }),
        ...(e.result.stages ?? []).map((s) => upsertStage(db, runId, { ...s, state: "completed" })),
        db
          .update(stages)
          .set({ state: "completed" })
          .where(and(eq(stages.runId, runId), eq(stages.state, "running")))
          .returning({ stage: stages.stage }),
      ]);
      break;
    case "run.failed":
      add(RunFailed, (e) => [
        db
          .update(runs)
          .set({
            state: e.reason === "cancelled" ? "cancelled" : "failed",
            failureReason: e.reason,
            failureMessage: e.message,
            finishedAt: now,
            updatedAt: now,
          })
          .where(and(eq(runs.id, runId), inArray(runs.state, ["queued", "running"])))
          .returning({ id: runs.id }),
      ]);
      break;
  }
  // Any event that lists a stage's candidates (search started, then scored) fills the table.
  add(CandidateList, (e) =>
    e.candidates.length === 0 ? [] : [upsertCandidates(db, runId, e.stage, e.candidates)],
  );
  return statements;
}

const count = z.number().int().min(0);
const num = z.number();

const RunStarted = z.object({
  epochs: count,
  backend: z.object({
    name: z.string(),
    package: z.string(),
    threads: num,
    device: z.string(),
    gpu: z.boolean(),
  }),
});
const EpochCompleted = z.object({
  epoch: count,
  step: count,
  trainLoss: num,
  trainAccuracy: num,
  lr: num,
  imagesPerSecond: num,
  epochSeconds: num,
  flopsPerImage: num,
  architecture: z.object({ depth: num, side: num, tokens: num }),
  evaluation: z.object({ online: num, best: num, ema: z.record(z.string(), num) }).nullable(),
});
const CheckpointSaved = z.object({ epoch: count });
const StageFields = z.object({
  stage: count,
  startEpoch: count,
  epochs: count,
  depth: count,
  side: count,
  tokens: count,
  flopsPerImage: num.optional(),
});
const StageStarted = StageFields;
const StageGrown = z.object({ stage: count, operator: z.string() });
const RunCompleted = z.object({
  result: z.looseObject({
    top1: num,
    bestTop1: num,
    wallSeconds: num,
    trainSeconds: num,
    flopsPerStepMean: num,
    flopsFull: num,
    epochs: count,
    stages: z.array(StageFields).optional(),
  }),
});
const RunFailed = z.object({ reason: z.string(), message: z.string() });
const CandidateList = z.object({ stage: count, candidates: z.array(z.record(z.string(), z.unknown())) });

function epochMetrics(e: z.infer<typeof EpochCompleted>): Record<string, number> {
  const series = [
    { key: "train.loss", value: e.trainLoss },
    { key: "train.accuracy", value: e.trainAccuracy },
    { key: "lr", value: e.lr },
    { key: "images_per_second", value: e.imagesPerSecond },
    { key: "epoch_seconds", value: e.epochSeconds },
    { key: "flops_per_image", value: e.flopsPerImage },
    { key: "depth", value: e.architecture.depth },
    { key: "tokens", value: e.architecture.tokens },
    ...(e.evaluation
      ? [
          { key: "test.top1", value: e.evaluation.online },
          { key: "test.best", value: e.evaluation.best },
          ...Object.entries(e.evaluation.ema).map(([name, value]) => ({ key: `test.ema.${name}`, value })),
        ]
      : []),
  ];
  return Object.fromEntries(series.filter((m) => Number.isFinite(m.value)).map((m) => [m.key, m.value]));
}

function upsertStage(
  db: Db,
  runId: string,
  s: z.infer<typeof StageFields> & { state: "running" | "completed"; startedAt?: number },
) {
  const row = {
    runId,
    stage: s.stage,
    startEpoch: s.startEpoch,
    epochs: s.epochs,
    depth: s.depth,
    side: s.side,
    tokens: s.tokens,
    flopsPerImage: s.flopsPerImage ?? null,
    state: s.state,
    startedAt: s.startedAt ?? null,
  };
  return db
    .insert(stages)
    .values(row)
    .onConflictDoUpdate({
      target: [stages.runId, stages.stage],
      set: {
        startEpoch: row.startEpoch,
        epochs: row.epochs,
        depth: row.depth,
        side: row.side,
        tokens: row.tokens,
        // Keep the planned FLOPs while the sub-network is the planned one.
        flopsPerImage:
          s.flopsPerImage ??
          sql`case when ${stages.depth} = ${row.depth} and ${stages.side} = ${row.side} then ${stages.flopsPerImage} end`,
        state: row.state,
        startedAt: sql`coalesce(${stages.startedAt}, ${row.startedAt})`,
      },
    })
    .returning({ stage: stages.stage });
}
