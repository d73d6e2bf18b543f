import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { batch } from "../../db/database.ts";
import { createExperiment, deleteExperimentStatements } from "../../db/experiments.ts";
import { runs } from "../../db/schema.ts";
import { type OpenDatabase, OTHER_WRITERS_POLL_MS, openDatabase } from "../../db/sqlite.ts";
import { queuedRunRow } from "../../support/fixtures.ts";

const opened: OpenDatabase[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const database of opened.splice(0)) database.close();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

function open(file: string) {
  const database = openDatabase(file);
  opened.push(database);
  return database;
}

/** Experiment exp_1 with its run run_a. */
async function withRun(database: OpenDatabase) {
  await createExperiment(database.db, {
    experiment: { id: "exp_1", name: "e", spec: {} as never, createdAt: 1 },
    runs: [queuedRunRow("run_a", 0)],
    stages: [],
  });
}

/** What the feed reported, in order. */
function listen(database: OpenDatabase) {
  const reported: (string | null)[] = [];
  const stop = database.runChanges.listen((runId) => reported.push(runId));
  return { reported, stop };
}

describe("the run change feed", () => {
  it("reports this connection's inserts, changes of shown columns and deletes, at once", async () => {
    const database = open(":memory:");
    const { reported, stop } = listen(database);
    await withRun(database);
    expect(reported).toEqual(["run_a"]);
    database.db.update(runs).set({ state: "running", epochsCompleted: 3 }).where(eq(runs.id, "run_a")).run();
    expect(reported).toEqual(["run_a", "run_a"]);
    // A heartbeat moves the lease and the update time, which no answer shows.
    database.db
      .update(runs)
      .set({ leaseOwner: "w", leaseExpiresAt: 99, updatedAt: 99 })
      .where(eq(runs.id, "run_a"))
      .run();
    expect(reported).toHaveLength(2);
    await batch(database.db, deleteExperimentStatements(database.db, "exp_1"));
    expect(reported).toEqual(["run_a", "run_a", "run_a"]);
    stop();
    await withRun(database);
    expect(reported).toHaveLength(3);
  });

  it("reports a commit by another connection to the file as 'any run' within a poll, and not its own", async () => {
    const folder = await mkdtemp(join(tmpdir(), "autoprog-run-changes-"));
    folders.push(folder);
    const file = join(folder, "db.sqlite");
    const server = open(file);
    await withRun(server);
    const { reported } = listen(server);
    server.db.update(runs).set({ note: "mine" }).where(eq(runs.id, "run_a")).run();
    await new Promise((resolve) => setTimeout(resolve, OTHER_WRITERS_POLL_MS * 2.5));
    expect(reported).toEqual(["run_a"]);

    const other = open(file);
    other.db.update(runs).set({ note: "another program's" }).where(eq(runs.id, "run_a")).run();
    await vi.waitFor(() => expect(reported).toEqual(["run_a", null]), { timeout: OTHER_WRITERS_POLL_MS * 6 });
  });

  it("stops polling when the database closes", async () => {
    const folder = await mkdtemp(join(tmpdir(), "autoprog-run-changes-"));
    folders.push(folder);
    const database = openDatabase(join(folder, "db.sqlite"));
    listen(database);
    database.close();
    // A poll of the closed connection would throw from its timer and fail this file.
    await new Promise((resolve) => setTimeout(resolve, OTHER_WRITERS_POLL_MS * 2.5));
  });
});
