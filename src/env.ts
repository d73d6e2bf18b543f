import { totalmem } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { z } from "zod";
import { AUTH_DEFAULTS } from "./auth/in-memory.ts";
import { KEY_PATTERN } from "./auth/keys.ts";
import { DEFAULT_RUN_CEILINGS, type RunCeilings } from "./core/run-cost.ts";
import { BACKEND_PREFERENCES } from "./core/spec.ts";

/** Every setting of the service, read once from the environment and validated. */
const EnvSchema = z.object({
  AUTOPROG_HOST: z.string().min(1).default("127.0.0.1"),
  /** 0 picks a free port (the bound address is logged). */
  AUTOPROG_PORT: z.coerce.number().int().min(0).max(65_535).default(8787),
  /** The database, checkpoints and dataset caches live under this folder. */
  AUTOPROG_DATA_DIR: z.string().min(1).default("data"),
  /** Defaults to `<data dir>/autoprog.sqlite`. */
  AUTOPROG_DB: z.string().min(1).optional(),
  /** Runs trained at once in worker threads; 0 serves the API only. */
  AUTOPROG_CONCURRENCY: z.coerce.number().int().min(0).max(64).default(1),
  /** `embedded`: this process trains queued runs in worker threads; `workers`: only pull workers do. */
  AUTOPROG_DISPATCH: z.enum(["embedded", "workers"]).default("embedded"),
  /** Checkpoint uploads of pull workers over this many bytes are refused with 413. */
  AUTOPROG_MAX_CHECKPOINT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  AUTOPROG_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
  /** Runs one project may have running at once; unset: no quota (claims are fair across projects either way). */
  AUTOPROG_PROJECT_MAX_RUNNING: z.coerce.number().int().min(1).optional(),
  /** A running run's lease: re-queued when its trainer shows no sign of life for this long. */
  AUTOPROG_LEASE_SECONDS: z.coerce.number().positive().default(120),
  /** Checkpoints kept per finished run (the newest ones); 0 removes them all. */
  AUTOPROG_KEEP_CHECKPOINTS: z.coerce.number().int().min(0).default(1),
  /** Overrides every spec's backend preference. */
  AUTOPROG_BACKEND: z.enum(BACKEND_PREFERENCES).optional(),
  AUTOPROG_SSE_HEARTBEAT_MS: z.coerce.number().int().min(10).default(15_000),
  AUTOPROG_IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  AUTOPROG_LOG: z.enum(["json", "silent"]).default("json"),
  /** The first key (operator, src/auth/bootstrap.ts), instead of a random one, when the database has no key yet. */
  AUTOPROG_BOOTSTRAP_KEY: z
    .string()
    .regex(KEY_PATTERN, "must be ap_ followed by 32 to 128 characters of A-Z a-z 0-9 _ -")
    .optional(),
  AUTOPROG_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(AUTH_DEFAULTS.requestsPerMinute),
  /** A worker key's heartbeats and event batches per minute: their own budget, apart from the one above. */
  AUTOPROG_WORKER_RATE_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .default(AUTH_DEFAULTS.workerRequestsPerMinute),
  AUTOPROG_AUTH_FAILURES_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .default(AUTH_DEFAULTS.failedAuthPerMinute),
  AUTOPROG_SSE_STREAMS_PER_KEY: z.coerce.number().int().min(1).default(AUTH_DEFAULTS.streamsPerKey),
  /** Take the client address from X-Forwarded-For (its last entry): only behind a proxy that sets it. */
  AUTOPROG_TRUST_PROXY: z.enum(["true", "false"]).default("false"),
  /** Signs stream tokens; random per process when unset (tokens then die with the process). */
  AUTOPROG_STREAM_TOKEN_SECRET: z.string().min(32).optional(),
  /** Request bodies over this many bytes are refused with 413. */
  AUTOPROG_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Host names the server answers to, comma-separated; default: loopback names on a loopback address, else any. */
  AUTOPROG_ALLOWED_HOSTS: z.string().min(1).optional(),
  /** Folders a spec's `dataset.root` may name, `:`-separated; default: the data folder. */
  AUTOPROG_DATASET_ROOTS: z.string().min(1).optional(),
  /** Let webhook URLs reach loopback, private and link-local addresses (local use, tests). */
  AUTOPROG_WEBHOOK_ALLOW_PRIVATE: z.enum(["true", "false"]).default("false"),
  /** Multiplies every wait of the webhook retry schedule (tests: 0.001). */
  AUTOPROG_WEBHOOK_TIME_SCALE: z.coerce.number().positive().max(1).default(1),
  /** How often the deliverer polls the outbox for due messages. */
  AUTOPROG_WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(1_000),
  /** Peak memory one run may need by its estimate (GB); default: half the machine's memory per trainer. */
  AUTOPROG_MAX_RUN_GB: z.coerce.number().positive().optional(),
  /** Total work one run may need by its estimate (PFLOP, training and evaluation). */
  AUTOPROG_MAX_RUN_PFLOPS: z.coerce
    .number()
    .positive()
    .default(DEFAULT_RUN_CEILINGS.maxRunFlops / 1e15),
});

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

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly cacheDir: string;
  readonly concurrency: number;
  readonly dispatch: "embedded" | "workers";
  readonly maxCheckpointBytes: number;
  readonly maxAttempts: number;
  /** Null: no per-project quota. */
  readonly projectMaxRunning: number | null;
  readonly leaseMs: number;
  readonly keepCheckpoints: number;
  readonly backend: (typeof BACKEND_PREFERENCES)[number] | null;
  readonly sseHeartbeatMs: number;
  readonly idempotencyTtlMs: number;
  readonly log: "json" | "silent";
  readonly bootstrapKey: string | null;
  readonly requestsPerMinute: number;
  readonly workerRequestsPerMinute: number;
  readonly failedAuthPerMinute: number;
  readonly streamsPerKey: number;
  readonly trustProxy: boolean;
  readonly streamTokenSecret: string | null;
  readonly maxBodyBytes: number;
  /** Null: the default for the listen address. */
  readonly allowedHosts: readonly string[] | null;
  /** Absolute folders a spec's `dataset.root` may name. */
  readonly datasetRoots: readonly string[];
  readonly webhooks: { readonly allowPrivate: boolean; readonly timeScale: number; readonly pollMs: number };
  readonly runCeilings: RunCeilings;
}

export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

export function loadSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new SettingsError(`invalid settings: ${problems}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.AUTOPROG_DATA_DIR);
  return {
    host: e.AUTOPROG_HOST,
    port: e.AUTOPROG_PORT,
    dataDir,
    databaseFile: e.AUTOPROG_DB ?? join(dataDir, "autoprog.sqlite"),
    cacheDir: join(dataDir, "cache"),
    concurrency: e.AUTOPROG_CONCURRENCY,
    dispatch: e.AUTOPROG_DISPATCH,
    maxCheckpointBytes: e.AUTOPROG_MAX_CHECKPOINT_BYTES,
    maxAttempts: e.AUTOPROG_MAX_ATTEMPTS,
    projectMaxRunning: e.AUTOPROG_PROJECT_MAX_RUNNING ?? null,
    leaseMs: e.AUTOPROG_LEASE_SECONDS * 1000,
    keepCheckpoints: e.AUTOPROG_KEEP_CHECKPOINTS,
    backend: e.AUTOPROG_BACKEND ?? null,
    sseHeartbeatMs: e.AUTOPROG_SSE_HEARTBEAT_MS,
    idempotencyTtlMs: e.AUTOPROG_IDEMPOTENCY_TTL_HOURS * 3_600_000,
    log: e.AUTOPROG_LOG,
    bootstrapKey: e.AUTOPROG_BOOTSTRAP_KEY ?? null,
    requestsPerMinute: e.AUTOPROG_RATE_LIMIT_PER_MINUTE,
    workerRequestsPerMinute: e.AUTOPROG_WORKER_RATE_PER_MINUTE,
    failedAuthPerMinute: e.AUTOPROG_AUTH_FAILURES_PER_MINUTE,
    streamsPerKey: e.AUTOPROG_SSE_STREAMS_PER_KEY,
    trustProxy: e.AUTOPROG_TRUST_PROXY === "true",
    streamTokenSecret: e.AUTOPROG_STREAM_TOKEN_SECRET ?? null,
    maxBodyBytes: e.AUTOPROG_MAX_BODY_BYTES,
    allowedHosts: e.AUTOPROG_ALLOWED_HOSTS
      ? e.AUTOPROG_ALLOWED_HOSTS.split(",")
          .map((h) => h.trim())
          .filter((h) => h !== "")
      : null,
    datasetRoots: e.AUTOPROG_DATASET_ROOTS
      ? e.AUTOPROG_DATASET_ROOTS.split(delimiter)
          .filter((folder) => folder !== "")
          .map((folder) => resolve(folder))
      : [dataDir],
    webhooks: {
      allowPrivate: e.AUTOPROG_WEBHOOK_ALLOW_PRIVATE === "true",
      timeScale: e.AUTOPROG_WEBHOOK_TIME_SCALE,
      pollMs: e.AUTOPROG_WEBHOOK_POLL_MS,
    },
    runCeilings: {
      maxRunBytes:
        e.AUTOPROG_MAX_RUN_GB !== undefined
          ? e.AUTOPROG_MAX_RUN_GB * 1e9
          : defaultMaxRunBytes(totalmem(), e.AUTOPROG_DISPATCH === "workers" ? 1 : e.AUTOPROG_CONCURRENCY),
      maxRunFlops: e.AUTOPROG_MAX_RUN_PFLOPS * 1e15,
    },
  };
}
