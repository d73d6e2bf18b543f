import { and, asc, desc, eq, getTableColumns, gt, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { type Db, literalLimit, preparedPerDatabase } from "./database.ts";
import { experiments, metricPoints, type RunState, runs, searchCandidates, stages } from "./schema.ts";
import { containsText, hasEveryTag } from "./search.ts";

export type RunRow = typeof runs.$inferSelect;
export type StageRow = typeof stages.$inferSelect;
export type CandidateRow = typeof searchCandidates.$inferSelect;
/** One value of one series: a key of a metric row (db/schema.ts `metricPoints`) with its step. */
export interface MetricRow {
  readonly key: string;
  readonly step: number;
  readonly epoch: number | null;
  readonly value: number;
}

/**
 * The spec a run trains: its own when it has one (a fork: its arm and training), else its
 * experiment's. The dispatcher and the pull-worker lease both hand the trainer this one.
 */
export const trainingSpecOf = (
  run: Pick<RunRow, "spec">,
  experiment: { readonly spec: RunRow["spec"] & object },
): NonNullable<RunRow["spec"]> => run.spec ?? experiment.spec;

// The whole row, for the dispatcher and the routes that change a run.
const getRunQuery = preparedPerDatabase((db) =>
  db
    .select()
    .from(runs)
    .where(eq(runs.id, sql.placeholder("id")))
    .prepare(),
);

export async function getRun(db: Db, id: string): Promise<RunRow | undefined> {
  return getRunQuery(db).get({ id });
}

// Every SSE page read asks this first.
const runStateQuery = preparedPerDatabase((db) =>
  db
    .select({ state: runs.state })
    .from(runs)
    .where(eq(runs.id, sql.placeholder("id")))
    .prepare(),
);

/** The run's state alone (undefined: no such run), without reading the rest of its row. */
export async function runStateOf(db: Db, id: string): Promise<RunState | undefined> {
  return (await runStateQuery(db).get({ id }))?.state;
}

/**
 * The columns a run's answer shows (routes/runs/schema.ts `toRun`) and its position (the lists'
 * cursors): not its result and spec, JSON that the run routes and lists would parse only to drop
 * (a finished run's result holds every epoch's record), nor its lease or update time.
 */
const {
  result: _result,
  spec: _spec,
  leaseOwner: _leaseOwner,
  leaseExpiresAt: _leaseExpiresAt,
  updatedAt: _updatedAt,
  ...runViewColumns
} = getTableColumns(runs);

export { runViewColumns };
export type RunView = Pick<RunRow, keyof typeof runViewColumns>;

const inProject = and(
  eq(runs.id, sql.placeholder("id")),
  eq(experiments.projectId, sql.placeholder("projectId")),
);

// Reads of one run of a project: the whole row, what its answer shows, or only whether it is there.
const runInProjectQueries = preparedPerDatabase((db) => ({
  row: db
    .select({ run: runs })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(inProject)
    .prepare(),
  view: db
    .select(runViewColumns)
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(inProject)
    .prepare(),
  exists: db
    .select({ one: sql<number>`1` })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(inProject)
    .prepare(),
}));

/** The run, when its experiment belongs to the project (another project's is as good as missing). */
export async function getRunInProject(db: Db, id: string, projectId: string): Promise<RunRow | undefined> {
  return (await runInProjectQueries(db).row.get({ id, projectId }))?.run;
}

/** What GET /v1/runs/{id} answers with, for the project's run (see getRunInProject). */
export async function getRunViewInProject(
  db: Db,
  id: string,
  projectId: string,
): Promise<RunView | undefined> {
  return runInProjectQueries(db).view.get({ id, projectId });
}

/** Whether the run is the project's: the check most run routes make before acting on it. */
export async function isRunInProject(db: Db, id: string, projectId: string): Promise<boolean> {
  return (await runInProjectQueries(db).exists.get({ id, projectId })) !== undefined;
}

export async function stagesOfRun(db: Db, runId: string): Promise<StageRow[]> {
  return db.select().from(stages).where(eq(stages.runId, runId)).orderBy(asc(stages.stage));
}

export async function stagesOfRuns(db: Db, runIds: readonly string[]): Promise<StageRow[]> {
  if (runIds.length === 0) return [];
  return db
    .select()
    .from(stages)
    .where(inArray(stages.runId, [...runIds]))
    .orderBy(asc(stages.runId), asc(stages.stage));
}

export async function candidatesOfRun(db: Db, runId: string): Promise<CandidateRow[]> {
  return db
    .select()
    .from(searchCandidates)
    .where(eq(searchCandidates.runId, runId))
    .orderBy(asc(searchCandidates.stage), asc(searchCandidates.idx));
}

/**
 * Every value of the run, one per key of each metric row, ordered by (key, step). The values
 * are unpacked here, not with SQLite's json_each, so each number is JavaScript's own parse of
 * the JSON the sink wrote (exact); a run holds one row per epoch, a few thousand at most.
 */
async function metricValuesOfRun(db: Db, runId: string): Promise<MetricRow[]> {
  const points = await db
    .select({ step: metricPoints.step, epoch: metricPoints.epoch, values: metricPoints.metricValues })
    .from(metricPoints)
    .where(eq(metricPoints.runId, runId))
    .orderBy(asc(metricPoints.step));
  const rows = points.flatMap(({ step, epoch, values }) =>
    Object.entries(values).map(([key, value]) => ({ key, step, epoch, value })),
  );
  // Stable: within a key the rows keep the step order of the read.
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Metrics ordered by (key, step), after the keyset position `after` when given. */
export async function metricsOfRun(
  db: Db,
  runId: string,
  options: { key?: string; after?: { key: string; step: number }; limit: number },
): Promise<MetricRow[]> {
  const { key, after } = options;
  return (await metricValuesOfRun(db, runId))
    .filter(
      (row) =>
        (key === undefined || row.key === key) &&
        (!after || row.key > after.key || (row.key === after.key && row.step > after.step)),
    )
    .slice(0, options.limit);
}

/** Flags a live or paused run for cancellation; returns its state then, or undefined when it is over. */
export async function requestCancel(db: Db, id: string, now: number): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ cancelRequested: true, updatedAt: now })
    .where(and(eq(runs.id, id), inArray(runs.state, ["queued", "running", "paused"])))
    .returning();
  return row;
}

/**
 * Pauses a queued run at once (nobody trains it; nobody asked to cancel it): returns it, now
 * `paused`, or undefined when it was not queued.
 */
export async function pauseQueuedRun(db: Db, id: string, now: number): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ state: "paused", pauseRequested: false, updatedAt: now })
    .where(and(eq(runs.id, id), eq(runs.state, "queued"), eq(runs.cancelRequested, false)))
    .returning();
  return row;
}

/**
 * Flags a running run for a pause (its trainer stops at the next step boundary and reports
 * `run.paused`); returns it, or undefined when it is not running or is being cancelled.
 */
export async function requestPause(db: Db, id: string, now: number): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ pauseRequested: true, updatedAt: now })
    .where(and(eq(runs.id, id), eq(runs.state, "running"), eq(runs.cancelRequested, false)))
    .returning();
  return row;
}

/** Queues a paused run again; returns it, now `queued`, or undefined when it was not paused. */
export async function resumeRun(db: Db, id: string, now: number): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ state: "queued", pauseRequested: false, updatedAt: now })
    .where(and(eq(runs.id, id), eq(runs.state, "paused"), eq(runs.cancelRequested, false)))
    .returning();
  return row;
}

/** A run's place in the cross-experiment list: creation time, then experiment, then spec order. */
export interface RunListPosition {
  readonly createdAt: number;
  readonly experimentId: string;
  readonly position: number;
}

export interface RunFilters {
  readonly projectId: string;
  readonly experimentIds?: readonly string[];
  readonly states?: readonly RunState[];
  /** The arm's kind or its name within the experiment. */
  readonly arms?: readonly string[];
  /** Every one of these tags (the run's own). */
  readonly tags?: readonly string[];
  /** Substring of the experiment's name. */
  readonly name?: string;
  /** Substring of the experiment's name, the arm's name or the run's note. */
  readonly text?: string;
  /** Created at or after (ms). */
  readonly since?: number;
  /** Created before (ms). */
  readonly until?: number;
}

/**
 * One page of the project's runs across experiments, newest first (or oldest first), runs of
 * one experiment in spec order, after the keyset position `after`.
 */
export async function listRuns(
  db: Db,
  filters: RunFilters,
  page: { newestFirst: boolean; after?: RunListPosition; limit: number },
): Promise<RunView[]> {
  const { after, newestFirst } = page;
  const older = newestFirst ? lt : gt;
  const afterPosition: SQL | undefined = after
    ? or(
        older(runs.createdAt, after.createdAt),
        and(
          eq(runs.createdAt, after.createdAt),
          or(
            older(runs.experimentId, after.experimentId),
            and(eq(runs.experimentId, after.experimentId), gt(runs.position, after.position)),
          ),
        ),
      )
    : undefined;
  const order = newestFirst ? desc : asc;
  return db
    .select(runViewColumns)
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(
      and(
        eq(experiments.projectId, filters.projectId),
        filters.experimentIds ? inArray(runs.experimentId, [...filters.experimentIds]) : undefined,
        filters.states ? inArray(runs.state, [...filters.states]) : undefined,
        filters.arms
          ? or(inArray(runs.arm, [...filters.arms]), inArray(runs.label, [...filters.arms]))
          : undefined,
        hasEveryTag(runs.tags, filters.tags ?? []),
        containsText([experiments.name], filters.name),
        containsText([experiments.name, runs.label, runs.note], filters.text),
        filters.since !== undefined ? gte(runs.createdAt, filters.since) : undefined,
        filters.until !== undefined ? lt(runs.createdAt, filters.until) : undefined,
        afterPosition,
      ),
    )
    .orderBy(order(runs.createdAt), order(runs.experimentId), asc(runs.position))
    .limit(literalLimit(page.limit));
}

/** Replaces the run's tags and/or note; returns the run as it is now, or undefined when it is gone. */
export async function annotateRun(
  db: Db,
  id: string,
  patch: { tags?: string[]; note?: string | null },
  now: number,
): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ ...patch, updatedAt: now })
    .where(eq(runs.id, id))
    .returning();
  return row;
}

/** The metric keys a run has values for, with how many values and the last step of each. */
export async function metricKeysOfRun(
  db: Db,
  runId: string,
): Promise<{ key: string; count: number; lastStep: number }[]> {
  const keys = new Map<string, { key: string; count: number; lastStep: number }>();
  for (const { key, step } of await metricValuesOfRun(db, runId)) {
    const entry = keys.get(key);
    if (entry) {
      entry.count += 1;
      entry.lastStep = Math.max(entry.lastStep, step);
    } else keys.set(key, { key, count: 1, lastStep: step });
  }
  return [...keys.values()];
}
