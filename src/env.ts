import { totalmem } from "node:os";
import { delimiter, join, resolve } from "node:path";
import type { RunCeilings } from "./core/run-cost.ts";
import { type NodeSettingValues, readNodeSettings } from "./settings/read.ts";
import { SETTINGS } from "./settings/table.ts";

export { SettingsError } from "./settings/read.ts";

/** Share of the machine's memory the default run ceiling leaves to the trainers together. */
export const TRAINER_MEMORY_SHARE = 0.5;

/**
 * The default memory ceiling of one run: half the machine's memory, split among the trainers
 * that run at once (at least one: with pull workers the server cannot know their machines, and
 * assumes its own). The other half is left to the OS, the API, and what a trainer's process
 * holds beyond its tensors (the runtime and the decoded dataset, ~0.3 GB at our sizes).
 */
export function defaultMaxRunBytes(totalMemoryBytes: number, trainers: number): number {
  return (TRAINER_MEMORY_SHARE * totalMemoryBytes) / Math.max(1, trainers);
}

/** Where the first start writes the operator key: `<data folder>/admin-key`. */
export const adminKeyFile = (dataDir: string): string => join(dataDir, "admin-key");

/**
 * The admin-key file a server started here with this environment would write (the CLI names it
 * in its auth errors); reads AUTOPROG_DATA_DIR only, so a bad other setting does not hide it.
 */
export function defaultAdminKeyFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return adminKeyFile(resolve(env[SETTINGS.dataDir.env] || SETTINGS.dataDir.default));
}

/** Every setting of the Node service, read once from the environment and validated. */
export type Settings = ReturnType<typeof settingsOf>;

/** Throws a SettingsError naming each variable that does not parse. */
export function loadSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  return settingsOf(readNodeSettings(env), totalmem());
}

/**
 * The service's settings from the variables (src/settings/table.ts): paths resolved here, units
 * made milliseconds and bytes, and the defaults only Node can compute (the machine's memory).
 */
function settingsOf(e: NodeSettingValues, totalMemoryBytes: number) {
  const dataDir = resolve(e.dataDir);
  return {
    host: e.host,
    port: e.port,
    dataDir,
    databaseFile: e.database ?? join(dataDir, "autoprog.sqlite"),
    cacheDir: join(dataDir, "cache"),
    concurrency: e.concurrency,
    dispatch: e.dispatch,
    maxCheckpointBytes: e.maxCheckpointBytes,
    maxAttempts: e.maxAttempts,
    projectMaxRunning: e.projectMaxRunning ?? null,
    leaseMs: e.leaseSeconds * 1000,
    trainerGraceMs: e.trainerGraceSeconds * 1000,
    trainerSilenceMs: e.trainerSilenceSeconds * 1000,
    keepCheckpoints: e.keepCheckpoints,
    keepStageCheckpoints: e.keepStageCheckpoints,
    backend: e.backend ?? null,
    sseHeartbeatMs: e.sseHeartbeatMs,
    idempotencyTtlMs: e.idempotencyTtlHours * 3_600_000,
    /** Where the log goes and how it reads; `AUTOPROG_LOG=json` is the older spelling of the json format. */
    log: e.log === "silent" ? "silent" : e.log === "json" ? "json" : e.logFormat,
    bootstrapKey: e.bootstrapKey ?? null,
    requestsPerMinute: e.requestsPerMinute,
    workerRequestsPerMinute: e.workerRequestsPerMinute,
    failedAuthPerMinute: e.failedAuthPerMinute,
    streamsPerKey: e.streamsPerKey,
    keyCacheSeconds: e.keyCacheSeconds,
    sseBufferBytes: e.sseBufferBytes,
    runCacheSize: e.runCacheSize,
    trustProxy: e.trustProxy,
    streamTokenSecret: e.streamTokenSecret ?? null,
    maxBodyBytes: e.maxBodyBytes,
    allowedHosts: e.allowedHosts
      ? e.allowedHosts
          .split(",")
          .map((h) => h.trim())
          .filter((h) => h !== "")
      : null,
    datasetRoots: e.datasetRoots
      ? e.datasetRoots
          .split(delimiter)
          .filter((folder) => folder !== "")
          .map((folder) => resolve(folder))
      : [dataDir],
    webhooks: {
      allowPrivate: e.webhookAllowPrivate,
      timeScale: e.webhookTimeScale,
      pollMs: e.webhookPollMs,
    },
    runCeilings: {
      // Node's own default: a share of this machine's memory (defaultMaxRunBytes above).
      maxRunBytes:
        e.maxRunGb !== undefined
          ? e.maxRunGb * 1e9
          : defaultMaxRunBytes(totalMemoryBytes, e.dispatch === "workers" ? 1 : e.concurrency),
      maxRunFlops: e.maxRunPflops * 1e15,
    } satisfies RunCeilings,
  } as const;
}
