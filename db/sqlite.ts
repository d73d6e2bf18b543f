import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import type { RunChangeFeed } from "./database.ts";
import { runViewColumns } from "./runs.ts";
import * as schema from "./schema.ts";

/** The Node database: better-sqlite3 under drizzle. Nothing on the request path imports this file. */
export type SqliteDb = BetterSQLite3Database<typeof schema>;

export interface OpenDatabase {
  readonly db: SqliteDb;
  /** Every change to a run's shown columns, this connection's at once, other programs' within a poll. */
  readonly runChanges: RunChangeFeed;
  close(): void;
}

const MIGRATIONS = fileURLToPath(new URL("./migrations", import.meta.url));

/** Opens (creating if needed) the SQLite file, switches on WAL and applies pending migrations. */
export function openDatabase(file: string): OpenDatabase {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  // WAL lets SSE readers run while the event sink writes; NORMAL is durable at each checkpoint of the WAL.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS });
  const runChanges = watchRunChanges(sqlite, file);
  return {
    db,
    runChanges,
    close: () => {
      runChanges.close();
      sqlite.close();
    },
  };
}

/** How often another connection's commits are looked for (`PRAGMA data_version`). */
export const OTHER_WRITERS_POLL_MS = 500;

/**
 * The Node database's RunChangeFeed. This connection's writes to a run's shown columns are
 * reported as they happen, by temporary triggers calling a function registered here: TEMP
 * triggers live on this connection only, so the file's schema, and every other program that
 * opens it, never sees them. A commit by another connection (the `autoprog keys` command, a
 * person with the sqlite3 shell) is found by polling `PRAGMA data_version`, which changes only
 * for those, and reported as "any run".
 */
function watchRunChanges(sqlite: Database.Database, file: string): RunChangeFeed & { close(): void } {
  const listeners = new Set<(runId: string | null) => void>();
  const report = (runId: string | null) => {
    for (const listener of listeners) listener(runId);
  };
  sqlite.function("autoprog_run_changed", { deterministic: false }, (runId: unknown) => {
    report(typeof runId === "string" ? runId : null);
    return null;
  });
  // Only the columns an answer shows: a heartbeat that moves a lease changes nothing shown.
  const shown = Object.values(runViewColumns)
    .map((column) => `"${column.name}"`)
    .join(", ");
  sqlite.exec(`
    CREATE TEMP TRIGGER autoprog_run_inserted AFTER INSERT ON main.runs
      BEGIN SELECT autoprog_run_changed(NEW.id); END;
    CREATE TEMP TRIGGER autoprog_run_updated AFTER UPDATE OF ${shown} ON main.runs
      BEGIN SELECT autoprog_run_changed(OLD.id); END;
    CREATE TEMP TRIGGER autoprog_run_deleted AFTER DELETE ON main.runs
      BEGIN SELECT autoprog_run_changed(OLD.id); END;
  `);
  // An in-memory database has no other connection to poll for.
  const dataVersion = file === ":memory:" ? null : sqlite.prepare("PRAGMA data_version").pluck();
  // Read when the first listener comes: commits before it concern no one.
  let seen: unknown;
  let poll: ReturnType<typeof setInterval> | undefined;
  return {
    listen(listener) {
      listeners.add(listener);
      if (dataVersion !== null && poll === undefined) {
        seen = dataVersion.get();
        poll = setInterval(() => {
          const version = dataVersion.get();
          if (version === seen) return;
          seen = version;
          report(null);
        }, OTHER_WRITERS_POLL_MS);
        poll.unref();
      }
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      clearInterval(poll);
      listeners.clear();
    },
  };
}
