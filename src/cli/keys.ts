import { Command, Option } from "commander";
import { createKey, listKeys, revokeKey } from "../../db/keys.ts";
import { DEFAULT_PROJECT, KEY_ROLES, type KeyRole } from "../../db/schema.ts";
import { hashKey, newKey } from "../auth/keys.ts";
import { loadSettings } from "../env.ts";

/**
 * `autoprog keys create|list|revoke`: what `/v1/keys` does for an operator key, against the
 * database file directly (AUTOPROG_DATA_DIR / AUTOPROG_DB, or --data-dir), for operators with
 * access to the host; the only way, besides the first start, to make an operator key.
 */
async function openFrom(options: { dataDir?: string }) {
  // Loaded here, as `serve` does, so `autoprog train` never loads better-sqlite3.
  const { openDatabase } = await import("../../db/sqlite.ts");
  const settings = loadSettings({
    ...process.env,
    ...(options.dataDir !== undefined ? { AUTOPROG_DATA_DIR: options.dataDir } : {}),
  });
  return openDatabase(settings.databaseFile);
}

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

export function keysCommand(): Command {
  const keys = new Command("keys").description("create, list and revoke API keys in the database directly");
  const dataDir = () => new Option("--data-dir <dir>", "data folder (or AUTOPROG_DATA_DIR; default ./data)");

  keys
    .command("create")
    .description("create a key (and its project when new); the key is printed once, on stdout")
    .option(
      "--project <name>",
      `the project it acts in (an operator key's home project; default ${DEFAULT_PROJECT})`,
    )
    .addOption(
      new Option(
        "--role <role>",
        "what it may do (operator: create projects and manage every project's keys)",
      )
        .choices([...KEY_ROLES])
        .default("member"),
    )
    .requiredOption("--name <name>", "what it is for (shown in lists)")
    .addOption(dataDir())
    .action(async (options: { project?: string; role: KeyRole; name: string; dataDir?: string }) => {
      const project = options.project ?? (options.role === "operator" ? DEFAULT_PROJECT : undefined);
      if (project === undefined || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(project)) {
        process.stderr.write(
          project === undefined
            ? "autoprog keys: --project is required (but for --role operator)\n"
            : "autoprog keys: --project takes lower-case letters, digits, _ and - (at most 63)\n",
        );
        process.exitCode = 2;
        return;
      }
      const database = await openFrom(options);
      try {
        const key = newKey();
        const row = await createKey(database.db, {
          projectId: project,
          role: options.role,
          name: options.name,
          hash: await hashKey(key),
          now: Date.now(),
        });
        process.stderr.write(`created ${row.id} (${row.role} of ${row.projectId}); the key is shown once:\n`);
        process.stdout.write(`${key}\n`);
      } finally {
        database.close();
      }
    });

  keys
    .command("list")
    .description("every key, tab-separated: id, project, role, name, created, last used, revoked")
    .option("--project <name>", "only this project's keys")
    .addOption(dataDir())
    .action(async (options: { project?: string; dataDir?: string }) => {
      const database = await openFrom(options);
      try {
        const rows = await listKeys(
          database.db,
          options.project !== undefined ? { projectId: options.project } : {},
        );
        for (const row of rows) {
          const fields = [row.id, row.projectId, row.role, row.name, iso(row.createdAt)];
          process.stdout.write(`${[...fields, iso(row.lastUsedAt), iso(row.revokedAt)].join("\t")}\n`);
        }
      } finally {
        database.close();
      }
    });

  keys
    .command("revoke")
    .description("revoke a key at once (not a project's last live admin key, nor the last operator key)")
    .argument("<id>", "the key's id (key_…)")
    .addOption(dataDir())
    .action(async (id: string, options: { dataDir?: string }) => {
      const database = await openFrom(options);
      try {
        const outcome = await revokeKey(database.db, id, Date.now());
        const messages = {
          revoked: `revoked ${id}`,
          already_revoked: `${id} was already revoked`,
          not_found: `no key ${id}`,
          last_admin_key: `${id} is the last live admin key of its project; create another admin key first`,
          last_operator_key: `${id} is the last live operator key; create another operator key first`,
        };
        const ok = outcome === "revoked" || outcome === "already_revoked";
        (ok ? process.stdout : process.stderr).write(`${messages[outcome]}\n`);
        if (!ok) process.exitCode = 1;
      } finally {
        database.close();
      }
    });
  return keys;
}
