import { and, asc, count, desc, eq, getTableColumns, gt, gte, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import { type BatchStatement, batch, literalLimit } from "./database.ts";
import { type RunView, runViewColumns } from "./runs.ts";
import { experiments, metricPoints, runEvents, runs, searchCandidates, stages } from "./schema.ts";
import { containsText, hasEveryTag } from "./search.ts";

export type ExperimentRow = typeof experiments.$inferSelect;
export type NewExperiment = typeof experiments.$inferInsert;
export type NewRun = typeof runs.$inferInsert;
export type NewStage = typeof stages.$inferInsert;

export interface ExperimentRecord {
  readonly experiment: NewExperiment;
  readonly runs: readonly NewRun[];
  readonly stages: readonly NewStage[];
}

/**
 * Bound variables per statement: D1's limit (SQLite's own is higher), so one spec's rows fit
 * every driver. A 64-run experiment in one INSERT hit "too many SQL variables".
 */
const MAX_VARIABLES_PER_STATEMENT = 100;

/** Splits rows into inserts of at most MAX_VARIABLES_PER_STATEMENT bound values each. */
function chunksFor<T>(rows: readonly T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_VARIABLES_PER_STATEMENT / columns));
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
}

/** The statements that create an experiment, its queued runs and their planned stages. */
export function createExperimentStatements(db: Db, record: ExperimentRecord): BatchStatement<unknown>[] {
  const runColumns = Object.keys(getTableColumns(runs)).length;
  const stageColumns = Object.keys(getTableColumns(stages)).length;
  return [
    db.insert(experiments).values(record.experiment).returning({ id: experiments.id }),
    ...chunksFor(record.runs, runColumns).map((chunk) =>
      db.insert(runs).values(chunk).returning({ id: runs.id }),
    ),
    ...chunksFor(record.stages, stageColumns).map((chunk) =>
      db.insert(stages).values(chunk).returning({ runId: stages.runId }),
    ),
  ];
}

/**
 * The statements that create a fork: its run and stages, and a copy of the parent's metrics rows
 * of the epochs before `forkEpoch` (rows carry the 0-based epoch that produced them), so the
 * fork's series up to the fork point are the parent's, row for row.
 */
export function createForkStatements(
  db: Db,
  fork: {
    readonly run: NewRun & { id: string; parentRunId: string; forkEpoch: number };
    readonly stages: readonly NewStage[];
  },
): BatchStatement<unknown>[] {
  const { id, parentRunId, forkEpoch } = fork.run;
  const stageColumns = Object.keys(getTableColumns(stages)).length;
  return [
    db.insert(runs).values(fork.run).returning({ id: runs.id }),
    ...chunksFor(fork.stages, stageColumns).map((chunk) =>
      db.insert(stages).values(chunk).returning({ runId: stages.runId }),
    ),
    db
      .insert(metricPoints)
      .select(
        db
          .select({
            runId: sql<string>`${id}`.as("run_id"),
            step: metricPoints.step,
            epoch: metricPoints.epoch,
            metricValues: metricPoints.metricValues,
          })
          .from(metricPoints)
          .where(and(eq(metricPoints.runId, parentRunId), lt(metricPoints.epoch, forkEpoch))),
      )
      .returning({ step: metricPoints.step }),
  ];
}

export async function createExperiment(db: Db, record: ExperimentRecord): Promise<void> {
  await batch(db, createExperimentStatements(db, record));
}

/** Any project's experiment: for the trainer side, which acts for every project. */
export async function getExperiment(db: Db, id: string): Promise<ExperimentRow | undefined> {
  return db.select().from(experiments).where(eq(experiments.id, id)).get();
}

/** The experiment, when it belongs to the project (another project's is as good as missing). */
export async function getExperimentInProject(
  db: Db,
  id: string,
  projectId: string,
): Promise<ExperimentRow | undefined> {
  return db
    .select()
    .from(experiments)
    .where(and(eq(experiments.id, id), eq(experiments.projectId, projectId)))
    .get();
}

export interface ExperimentFilters {
  readonly projectId: string;
  /** Every one of these tags. */
  readonly tags?: readonly string[];
  /** Substring of the name. */
  readonly name?: string;
  /** Substring of the name or the note. */
  readonly text?: string;
  /** Created at or after (ms). */
  readonly since?: number;
  /** Created before (ms). */
  readonly until?: number;
}

/**
 * The project's experiments, newest first (or oldest first); `after` is the last id of the
 * previous page (ids sort by creation time).
 */
export async function listExperiments(
  db: Db,
  filters: ExperimentFilters,
  page: { newestFirst: boolean; after?: string; limit: number },
) {
  const { after, newestFirst } = page;
  return db
    .select()
    .from(experiments)
    .where(
      and(
        eq(experiments.projectId, filters.projectId),
        hasEveryTag(experiments.tags, filters.tags ?? []),
        containsText([experiments.name], filters.name),
        containsText([experiments.name, experiments.note], filters.text),
        filters.since !== undefined ? gte(experiments.createdAt, filters.since) : undefined,
        filters.until !== undefined ? lt(experiments.createdAt, filters.until) : undefined,
        after !== undefined ? (newestFirst ? lt : gt)(experiments.id, after) : undefined,
      ),
    )
    .orderBy(newestFirst ? desc(experiments.id) : asc(experiments.id))
    .limit(literalLimit(page.limit));
}

/** Replaces the experiment's tags and/or note; returns it as it is now, or undefined when it is gone. */
export async function annotateExperiment(
  db: Db,
  id: string,
  patch: { tags?: string[]; note?: string | null },
): Promise<ExperimentRow | undefined> {
  const [row] = await db.update(experiments).set(patch).where(eq(experiments.id, id)).returning();
  return row;
}

export async function runsOfExperiments(db: Db, experimentIds: readonly string[]) {
  if (experimentIds.length === 0) return [];
  return db
    .select()
    .from(runs)
    .where(inArray(runs.experimentId, [...experimentIds]))
    .orderBy(runs.experimentId, runs.position);
}

/** The same runs as runsOfExperiments, read as their answers show them (db/runs.ts runViewColumns). */
export async function runViewsOfExperiments(db: Db, experimentIds: readonly string[]): Promise<RunView[]> {
  if (experimentIds.length === 0) return [];
  return db
    .select(runViewColumns)
    .from(runs)
    .where(inArray(runs.experimentId, [...experimentIds]))
    .orderBy(runs.experimentId, runs.position);
}

/** How many runs of each experiment are in each state (states with none are left out). */
export async function runCountsOfExperiments(db: Db, experimentIds: readonly string[]) {
  if (experimentIds.length === 0) return [];
  return db
    .select({ experimentId: runs.experimentId, state: runs.state, count: count() })
    .from(runs)
    .where(inArray(runs.experimentId, [...experimentIds]))
    .groupBy(runs.experimentId, runs.state);
}

/** One page of an experiment's runs in spec order, after the keyset position `afterPosition`. */
export async function runsOfExperimentPage(
  db: Db,
  experimentId: string,
  options: { afterPosition?: number; limit: number },
): Promise<RunView[]> {
  return db
    .select(runViewColumns)
    .from(runs)
    .where(
      and(
        eq(runs.experimentId, experimentId),
        options.afterPosition !== undefined ? gt(runs.position, options.afterPosition) : undefined,
      ),
    )
    .orderBy(asc(runs.position))
    .limit(literalLimit(options.limit));
}

/** The statements that delete an experiment and every row of its runs, children first. */
export function deleteExperimentStatements(db: Db, experimentId: string): BatchStatement<unknown>[] {
  const runIds = db.select({ id: runs.id }).from(runs).where(eq(runs.experimentId, experimentId));
  return [
    db
      .delete(metricPoints)
      .where(inArray(metricPoints.runId, runIds))
      .returning({ runId: metricPoints.runId }),
    db
      .delete(searchCandidates)
      .where(inArray(searchCandidates.runId, runIds))
      .returning({ runId: searchCandidates.runId }),
    db.delete(stages).where(inArray(stages.runId, runIds)).returning({ runId: stages.runId }),
    db.delete(runEvents).where(inArray(runEvents.runId, runIds)).returning({ runId: runEvents.runId }),
    db.delete(runs).where(eq(runs.experimentId, experimentId)).returning({ id: runs.id }),
    db.delete(experiments).where(eq(experiments.id, experimentId)).returning({ id: experiments.id }),
  ];
}
