import { join, resolve } from "node:path";
import { z } from "zod";
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
  AUTOPROG_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
  /** A running run's lease: re-queued when its trainer shows no sign of life for this long. */
  AUTOPROG_LEASE_SECONDS: z.coerce.number().positive().default(120),
  /** Checkpoints kept per finished run (the newest ones); 0 removes them all. */
  AUTOPROG_KEEP_CHECKPOINTS: z.coerce.number().int().min(0).default(1),
  /** Overrides every spec's backend preference. */
  AUTOPROG_BACKEND: z.enum(BACKEND_PREFERENCES).optional(),
  AUTOPROG_SSE_HEARTBEAT_MS: z.coerce.number().int().min(10).default(15_000),
  AUTOPROG_IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  AUTOPROG_LOG: z.enum(["json", "silent"]).default("json"),
  /** Let webhook URLs reach loopback, private and link-local addresses (local use, tests). */
  AUTOPROG_WEBHOOK_ALLOW_PRIVATE: z.enum(["true", "false"]).default("false"),
  /** Multiplies every wait of the webhook retry schedule (tests: 0.001). */
  AUTOPROG_WEBHOOK_TIME_SCALE: z.coerce.number().positive().max(1).default(1),
  /** How often the deliverer polls the outbox for due messages. */
  AUTOPROG_WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(1_000),
});

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly cacheDir: string;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly leaseMs: number;
  readonly keepCheckpoints: number;
  readonly backend: (typeof BACKEND_PREFERENCES)[number] | null;
  readonly sseHeartbeatMs: number;
  readonly idempotencyTtlMs: number;
  readonly log: "json" | "silent";
  readonly webhooks: { readonly allowPrivate: boolean; readonly timeScale: number; readonly pollMs: number };
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
    maxAttempts: e.AUTOPROG_MAX_ATTEMPTS,
    leaseMs: e.AUTOPROG_LEASE_SECONDS * 1000,
    keepCheckpoints: e.AUTOPROG_KEEP_CHECKPOINTS,
    backend: e.AUTOPROG_BACKEND ?? null,
    sseHeartbeatMs: e.AUTOPROG_SSE_HEARTBEAT_MS,
    idempotencyTtlMs: e.AUTOPROG_IDEMPOTENCY_TTL_HOURS * 3_600_000,
    log: e.AUTOPROG_LOG,
    webhooks: {
      allowPrivate: e.AUTOPROG_WEBHOOK_ALLOW_PRIVATE === "true",
      timeScale: e.AUTOPROG_WEBHOOK_TIME_SCALE,
      pollMs: e.AUTOPROG_WEBHOOK_POLL_MS,
    },
  };
}
