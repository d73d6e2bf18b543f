import { and, asc, eq, gt, inArray, or, sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import { experiments, metrics, runs, searchCandidates, stages } from "./schema.ts";

export type RunRow = typeof runs.$inferSelect;
export type StageRow = typeof stages.$inferSelect;
export type CandidateRow = typeof searchCandidates.$inferSelect;
export type MetricRow = typeof metrics.$inferSelect;

// The hottest read (every run route and every SSE wake-up), built once per database.
const getRunQueries = new WeakMap<Db, ReturnType<typeof prepareGetRun>>();
const prepareGetRun = (db: Db) =>
  db
    .select()
    .from(runs)
    .where(eq(runs.id, sql.placeholder("id")))
    .prepare();

export async function getRun(db: Db, id: string): Promise<RunRow | undefined> {
  let query = getRunQueries.get(db);
  if (!query) {
    query = prepareGetRun(db);
    getRunQueries.set(db, query);
  }
  return query.get({ id });
}

// Every run route's first read (GET /v1/runs/{id} above all), built once per database.
const runInProjectQueries = new WeakMap<Db, ReturnType<typeof prepareRunInProject>>();
const prepareRunInProject = (db: Db) =>
  db
    .select({ run: runs })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(and(eq(runs.id, sql.placeholder("id")), eq(experiments.projectId, sql.placeholder("projectId"))))
    .prepare();

/** The run, when its experiment belongs to the project (another project's is as good as missing). */
export async function getRunInProject(db: Db, id: string, projectId: string): Promise<RunRow | undefined> {
  let query = runInProjectQueries.get(db);
  if (!query) {
    query = prepareRunInProject(db);
    runInProjectQueries.set(db, query);
  }
  return (await query.get({ id, projectId }))?.run;
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

/** Metrics ordered by (key, step), after the keyset position `after` when given. */
export async function metricsOfRun(
  db: Db,
  runId: string,
  options: { key?: string; after?: { key: string; step: number }; limit: number },
): Promise<MetricRow[]> {
  const { key, after } = options;
  return db
    .select()
    .from(metrics)
    .where(
      and(
        eq(metrics.runId, runId),
        key !== undefined ? eq(metrics.key, key) : undefined,
        after
          ? or(gt(metrics.key, after.key), and(eq(metrics.key, after.key), gt(metrics.step, after.step)))
          : undefined,
      ),
    )
    .orderBy(asc(metrics.key), asc(metrics.step))
    .limit(options.limit);
}

/** Flags a live run for cancellation; returns its state then, or undefined when it is not live. */
export async function requestCancel(db: Db, id: string, now: number): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ cancelRequested: true, updatedAt: now })
    .where(and(eq(runs.id, id), inArray(runs.state, ["queued", "running"])))
    .returning();
  return row;
}
