import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createExperiment, runsOfExperimentPage, runViewsOfExperiments } from "../../db/experiments.ts";
import { getRunInProject, getRunViewInProject, isRunInProject, listRuns, runStateOf } from "../../db/runs.ts";
import { projects, runs } from "../../db/schema.ts";
import { type OpenDatabase, openDatabase } from "../../db/sqlite.ts";
import { RunSchema, toRun } from "../../routes/runs/schema.ts";
import { queuedRunRow } from "../../support/fixtures.ts";

let database: OpenDatabase;
beforeEach(async () => {
  database = openDatabase(":memory:");
  database.db.insert(projects).values({ id: "other", createdAt: 1 }).run();
  await createExperiment(database.db, {
    experiment: { id: "exp_1", name: "e", spec: {} as never, createdAt: 1 },
    runs: [queuedRunRow("run_a", 0)],
    stages: [],
  });
  database.db
    .update(runs)
    .set({ state: "completed", result: { top1: 0.5 } as never, spec: { name: "fork" } as never, tags: ["a"] })
    .where(eq(runs.id, "run_a"))
    .run();
});
afterEach(() => database.close());

describe("reads of one run", () => {
  it("find a project's run and nobody else's", async () => {
    expect(await isRunInProject(database.db, "run_a", "default")).toBe(true);
    expect(await isRunInProject(database.db, "run_a", "other")).toBe(false);
    expect(await isRunInProject(database.db, "run_missing", "default")).toBe(false);
    expect(await getRunViewInProject(database.db, "run_a", "other")).toBeUndefined();
    expect(await getRunInProject(database.db, "run_a", "other")).toBeUndefined();
  });

  it("answer GET /v1/runs/{id} from the view as from the whole row, without the result and spec", async () => {
    const view = await getRunViewInProject(database.db, "run_a", "default");
    const row = await getRunInProject(database.db, "run_a", "default");
    expect(view).toBeDefined();
    expect(row?.result).toEqual({ top1: 0.5 });
    expect(Object.keys(view ?? {})).not.toContain("result");
    expect(Object.keys(view ?? {})).not.toContain("spec");
    expect(view && toRun(view)).toEqual(row && toRun(row));
    expect(view?.tags).toEqual(["a"]);
    // toRun builds the answer without parsing it: the schema the OpenAPI document publishes holds it.
    expect(view && RunSchema.parse(toRun(view))).toEqual(view && toRun(view));
  });

  it("list runs as their answers show them, without the result and spec", async () => {
    const lists = [
      await listRuns(database.db, { projectId: "default" }, { newestFirst: false, limit: 10 }),
      await runsOfExperimentPage(database.db, "exp_1", { limit: 10 }),
      await runViewsOfExperiments(database.db, ["exp_1"]),
    ];
    const whole = await getRunInProject(database.db, "run_a", "default");
    for (const list of lists) {
      expect(list.map((run) => run.id)).toEqual(["run_a"]);
      expect(Object.keys(list[0] ?? {})).not.toContain("result");
      expect(list[0]?.position).toBe(0); // the lists' cursors are made of it
      expect(list[0] && toRun(list[0])).toEqual(whole && toRun(whole));
    }
  });

  it("read a run's state alone", async () => {
    expect(await runStateOf(database.db, "run_a")).toBe("completed");
    expect(await runStateOf(database.db, "run_missing")).toBeUndefined();
  });
});
