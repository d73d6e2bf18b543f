import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { SQLiteInsertValue, SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { EventOfType, StageHeader, TrainingEvent } from "../src/core/events.ts";
import { epochMetrics } from "../src/core/metric-keys.ts";
import { upsertCandidates } from "./candidates.ts";
import { type BatchStatement, type Db, preparedPerDatabase } from "./database.ts";
import { metricPoints, runs, stages } from "./schema.ts";

/**
 * The tables an event updates besides run_events, as statements of the event's batch. The
 * event was parsed against the one contract (core/events.ts) before it got here. Every
 * statement is idempotent, because it also runs when the event is a replay the log ignores.
 */
export function derivedStatements(
  db: Db,
  runId: string,
  event: TrainingEvent,
  now: number,
): BatchStatement<unknown>[] {
  const touchRun = (set: SQLiteUpdateSetSource<typeof runs>) =>
    db
      .update(runs)
      .set({ ...set, updatedAt: now })
      .where(eq(runs.id, runId))
      .returning({ id: runs.id });
  switch (event.type) {
    case "run.started":
      return [touchRun({ backend: event.backend, epochs: event.epochs })];
    case "epoch.completed":
      return epochStatements(db, runId, event, touchRun);
    case "checkpoint.saved":
      return [touchRun({ checkpointEpoch: sql`max(coalesce(${runs.checkpointEpoch}, 0), ${event.epoch})` })];
    case "stage.started":
      return [
        db
          .update(stages)
          .set({ state: "completed" })
          .where(and(eq(stages.runId, runId), lt(stages.stage, event.stage), eq(stages.state, "running")))
          .returning({ stage: stages.stage }),
        upsertStage(db, runId, { ...event, state: "running", startedAt: now }),
      ];
    case "stage.grown":
      return [
        db
          .update(stages)
          .set({ operator: event.operator, growth: event })
          .where(and(eq(stages.runId, runId), eq(stages.stage, event.stage)))
          .returning({ stage: stages.stage }),
      ];
    case "stage.search.started":
    case "stage.search.completed":
      return event.candidates.length === 0
        ? []
        : [upsertCandidates(db, runId, event.stage, event.candidates)];
    case "run.completed":
      return completedStatements(db, runId, event, now);
    case "run.failed":
      return [
        db
          .update(runs)
          .set({
            state: event.reason === "cancelled" ? "cancelled" : "failed",
            failureReason: event.reason,
            failureMessage: event.message,
            // A pause asked for too late to land is moot once the run is over.
            pauseRequested: false,
            finishedAt: now,
            updatedAt: now,
            leaseOwner: null,
            leaseExpiresAt: null,
          })
          .where(and(eq(runs.id, runId), inArray(runs.state, ["queued", "running", "paused"])))
          .returning({ id: runs.id }),
      ];
    case "run.paused":
      return [
        db
          .update(runs)
          .set({
            state: "paused",
            pauseRequested: false,
            // A pause is no failure: the attempt it interrupted is given back (claims count one).
            attempt: sql`case when ${runs.state} = 'running' then max(${runs.attempt} - 1, 0) else ${runs.attempt} end`,
            leaseOwner: null,
            leaseExpiresAt: null,
            updatedAt: now,
          })
          .where(and(eq(runs.id, runId), inArray(runs.state, ["queued", "running"])))
          .returning({ id: runs.id }),
      ];
    case "run.resumed":
      // The resume route queued the run in its own conditional statement; the event is the record.
      return [];
    case "attempt.failed":
      // The run's state is the queue's (re-queued or given up); the event is the record.
      return [];
  }
}

/**
 * The same statements as `derivedStatements`, for a database that runs them synchronously
 * inside one transaction (better-sqlite3): an `epoch.completed` event, the one a trainer sends
 * most, runs statements prepared once per database (building and preparing a statement costs
 * more than running it); every other event is built as `derivedStatements` builds it.
 */
export function derivedStatementsPrepared(
  db: Db,
  runId: string,
  event: TrainingEvent,
  now: number,
): BatchStatement<unknown>[] {
  if (event.type !== "epoch.completed") return derivedStatements(db, runId, event, now);
  const prepared = preparedEpochStatements(db);
  const statements: BatchStatement<unknown>[] = [
    event.evaluation
      ? bound(prepared.touchEvaluated, {
          runId,
          now,
          epochs: event.epoch + 1,
          top1: event.evaluation.best,
        })
      : bound(prepared.touch, { runId, now, epochs: event.epoch + 1 }),
  ];
  const values = epochMetrics(event);
  if (Object.keys(values).length > 0) {
    statements.push(
      bound(prepared.point, {
        runId,
        step: event.step,
        epoch: event.epoch,
        metricValues: JSON.stringify(values),
      }),
    );
  }
  return statements;
}

/** A prepared statement with its parameters, run as a statement of a batch (it returns no rows). */
interface Runnable {
  run(params: Record<string, unknown>): unknown;
}
const bound = (statement: Runnable, params: Record<string, unknown>): BatchStatement<unknown> => ({
  all: () => {
    statement.run(params);
    return [];
  },
});

const preparedEpochStatements = preparedPerDatabase(prepareEpochStatements);

function prepareEpochStatements(db: Db) {
  const p = sql.placeholder;
  const touch = (evaluated: boolean) =>
    db
      .update(runs)
      .set({
        epochsCompleted: sql`max(${runs.epochsCompleted}, ${p("epochs")})`,
        ...(evaluated
          ? { top1: sql`${p("top1")}`, bestTop1: sql`max(coalesce(${runs.bestTop1}, 0), ${p("top1")})` }
          : {}),
        updatedAt: sql`${p("now")}`,
      })
      .where(eq(runs.id, sql`${p("runId")}`))
      .prepare();
  return {
    touch: touch(false) as Runnable,
    touchEvaluated: touch(true) as Runnable,
    point: insertPoint(db, {
      runId: sql`${p("runId")}`,
      step: sql`${p("step")}`,
      epoch: sql`${p("epoch")}`,
      metricValues: sql`${p("metricValues")}`,
    }).prepare() as Runnable,
  };
}

/**
 * The epoch's metric row. A step stored already (a replayed event) keeps its values and gains
 * only keys it lacked: json_patch lets the stored object win over the new one.
 */
function insertPoint(db: Db, row: SQLiteInsertValue<typeof metricPoints>) {
  return db
    .insert(metricPoints)
    .values(row)
    .onConflictDoUpdate({
      target: [metricPoints.runId, metricPoints.step],
      set: {
        metricValues: sql`json_patch(excluded.${sql.identifier("metric_values")}, ${metricPoints.metricValues})`,
      },
    });
}

function epochStatements(
  db: Db,
  runId: string,
  e: EventOfType<"epoch.completed">,
  touchRun: (set: SQLiteUpdateSetSource<typeof runs>) => BatchStatement<unknown>,
): BatchStatement<unknown>[] {
  const values = epochMetrics(e);
  return [
    touchRun({
      epochsCompleted: sql`max(${runs.epochsCompleted}, ${e.epoch + 1})`,
      ...(e.evaluation
        ? { top1: e.evaluation.best, bestTop1: sql`max(coalesce(${runs.bestTop1}, 0), ${e.evaluation.best})` }
        : {}),
    }),
    ...(Object.keys(values).length > 0
      ? [
          insertPoint(db, { runId, step: e.step, epoch: e.epoch, metricValues: values }).returning({
            step: metricPoints.step,
          }),
        ]
      : []),
  ];
}

function completedStatements(
  db: Db,
  runId: string,
  { result }: EventOfType<"run.completed">,
  now: number,
): BatchStatement<unknown>[] {
  return [
    db
      .update(runs)
      .set({
        state: "completed",
        result,
        top1: result.top1,
        bestTop1: result.bestTop1,
        wallSeconds: result.wallSeconds,
        trainSeconds: result.trainSeconds,
        flopsPerImageMean: result.flopsPerStepMean,
        flopsFull: result.flopsFull,
        epochsCompleted: result.epochs,
        pauseRequested: false,
        finishedAt: now,
        updatedAt: now,
        leaseOwner: null,
        leaseExpiresAt: null,
      })
      .where(and(eq(runs.id, runId), eq(runs.state, "running")))
      .returning({ id: runs.id }),
    ...result.stages.map((s) => upsertStage(db, runId, { ...s, state: "completed" })),
    db
      .update(stages)
      .set({ state: "completed" })
      .where(and(eq(stages.runId, runId), eq(stages.state, "running")))
      .returning({ stage: stages.stage }),
  ];
}

function upsertStage(
  db: Db,
  runId: string,
  s: StageHeader & { flopsPerImage?: number; state: "running" | "completed"; startedAt?: number },
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
