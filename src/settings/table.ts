import { z } from "zod";
import { AUTH_DEFAULTS } from "../auth/in-memory.ts";
import { KEY_PATTERN } from "../auth/keys.ts";
import { DEFAULT_RUN_CEILINGS } from "../core/run-cost.ts";
import { BACKEND_PREFERENCES } from "../core/spec.ts";
import { DEFAULT_TRAINER_GRACE_MS, DEFAULT_TRAINER_SILENCE_MS } from "../dispatch/protocol.ts";
import { DEFAULT_LEASE_MS } from "../dispatch/queue.ts";

/**
 * Every setting of the service, once: its Node environment variable, its Workers binding where
 * it has one, the schema its text is parsed with, its default and what it means. src/env.ts
 * (Node) and src/cloudflare.ts (Workers) read their settings through src/settings/read.ts from
 * this table, and `npm run docs:settings` writes docs/configuration.md from it. Portable: no
 * Node module, so the Workers entry imports it too.
 */

/** A setting without a value when unset, and what that means (a Node-side default, or "none"). */
export interface Unset {
  readonly unset: string;
}

/** How a setting is given to the Workers entry: a `[vars]` entry of wrangler.toml, or a secret. */
export interface WorkersBinding<S extends z.ZodType> {
  readonly binding: string;
  readonly kind: "var" | "secret";
  /** Where Workers' default differs from Node's. */
  readonly default?: string | Unset;
  /** Where Workers accepts other values than Node. */
  readonly schema?: S;
  /** Why Workers differs (shown in the documentation). */
  readonly note?: string;
}

export interface Setting<S extends z.ZodType = z.ZodType> {
  /** The Node environment variable. */
  readonly env: string;
  /** Parses the variable's text. */
  readonly schema: S;
  /** The text the variable defaults to (parsed like a set one), or what being unset means. */
  readonly default: string | Unset;
  readonly description: string;
  /** Absent: the setting has no meaning on Workers. */
  readonly workers?: WorkersBinding<S>;
}

/** Keeps each entry's literal names, its schema's type and whether it has a default. */
const setting = <const E extends Setting>(entry: E): E => entry;

const unset = (meaning: string): Unset => ({ unset: meaning });
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const positive = () => z.coerce.number().positive();
const flag = () => z.enum(["true", "false"]).transform((text) => text === "true");

export const SETTINGS = {
  host: setting({
    env: "AUTOPROG_HOST",
    schema: z.string().min(1),
    default: "127.0.0.1",
    description: "the listen address",
  }),
  port: setting({
    env: "AUTOPROG_PORT",
    schema: int(0, 65_535),
    default: "8787",
    description: "the listen port; 0 picks a free one (the bound URL is logged)",
  }),
  dataDir: setting({
    env: "AUTOPROG_DATA_DIR",
    schema: z.string().min(1),
    default: "data",
    description: "the database, checkpoints and dataset caches live under this folder",
  }),
  database: setting({
    env: "AUTOPROG_DB",
    schema: z.string().min(1),
    default: unset("`<data dir>/autoprog.sqlite`"),
    description: "the SQLite file",
  }),
  concurrency: setting({
    env: "AUTOPROG_CONCURRENCY",
    schema: int(0, 64),
    default: "1",
    description: "runs trained at once (a trainer process each); 0 serves the API only",
  }),
  dispatch: setting({
    env: "AUTOPROG_DISPATCH",
    schema: z.enum(["embedded", "workers"]),
    default: "embedded",
    description:
      "`embedded`: this process trains queued runs, each attempt in a trainer process of its own; `workers`: it trains nothing and waits for `autoprog worker`s",
  }),
  maxCheckpointBytes: setting({
    env: "AUTOPROG_MAX_CHECKPOINT_BYTES",
    schema: int(1),
    default: String(256 * 1024 * 1024),
    description:
      "larger checkpoint uploads of pull workers (256 MiB by default) are refused with 413; the request body limit does not apply to them",
  }),
  maxAttempts: setting({
    env: "AUTOPROG_MAX_ATTEMPTS",
    schema: int(1, 100),
    default: "3",
    description: "starts allowed per run before an interrupted run (or an expired lease) fails it",
    workers: { binding: "MAX_ATTEMPTS", kind: "var" },
  }),
  projectMaxRunning: setting({
    env: "AUTOPROG_PROJECT_MAX_RUNNING",
    schema: int(1),
    default: unset("no cap"),
    description: "runs one project may have training at once (claims are fair across projects either way)",
    workers: { binding: "PROJECT_MAX_RUNNING", kind: "var" },
  }),
  leaseSeconds: setting({
    env: "AUTOPROG_LEASE_SECONDS",
    schema: positive(),
    default: String(DEFAULT_LEASE_MS / 1000),
    description:
      "a running run is re-queued when its trainer shows no sign of life (no step, no event, no heartbeat) for this long",
    workers: {
      binding: "LEASE_SECONDS",
      kind: "var",
      note: "a pull worker's lease; the cron re-queues runs whose lease expired",
    },
  }),
  trainerGraceSeconds: setting({
    env: "AUTOPROG_TRAINER_GRACE_SECONDS",
    schema: positive(),
    default: String(DEFAULT_TRAINER_GRACE_MS / 1000),
    description:
      "a trainer process told to stop (cancel, lost lease, shutdown) has this long to exit before it is killed (SIGKILL)",
  }),
  trainerSilenceSeconds: setting({
    env: "AUTOPROG_TRAINER_SILENCE_SECONDS",
    schema: positive(),
    default: String(DEFAULT_TRAINER_SILENCE_MS / 1000),
    description:
      "a trainer process that sends nothing (no step, no heartbeat, no event) for this long hangs: it is killed and the attempt ends (in set-up, before `run.started`, it has at least a minute)",
  }),
  keepCheckpoints: setting({
    env: "AUTOPROG_KEEP_CHECKPOINTS",
    schema: int(0),
    default: "1",
    description: "checkpoints kept per finished run (the newest); 0 removes them all",
  }),
  keepStageCheckpoints: setting({
    env: "AUTOPROG_KEEP_STAGE_CHECKPOINTS",
    schema: flag(),
    default: "true",
    description:
      "`true`: a finished run also keeps the checkpoint that closes each stage, so a fork can start there (`POST /v1/runs/{id}/fork`)",
  }),
  backend: setting({
    env: "AUTOPROG_BACKEND",
    schema: z.enum(BACKEND_PREFERENCES),
    default: unset("the spec's choice"),
    description: "overrides every run's backend preference",
  }),
  sseHeartbeatMs: setting({
    env: "AUTOPROG_SSE_HEARTBEAT_MS",
    schema: int(10),
    default: "15000",
    description: "idle SSE comment interval",
    workers: {
      binding: "SSE_HEARTBEAT_MS",
      kind: "var",
      default: "2000",
      schema: int(100),
      note: "one isolate cannot wake another, so SSE followers read the events table this often (at least 100)",
    },
  }),
  idempotencyTtlHours: setting({
    env: "AUTOPROG_IDEMPOTENCY_TTL_HOURS",
    schema: positive(),
    default: "24",
    description: "how long an `Idempotency-Key` is remembered",
    workers: { binding: "IDEMPOTENCY_TTL_HOURS", kind: "var" },
  }),
  log: setting({
    env: "AUTOPROG_LOG",
    schema: z.enum(["on", "silent", "json"]),
    default: "on",
    description:
      "`on`: log to stdout in `AUTOPROG_LOG_FORMAT`; `silent`: no log; `json`: the older spelling of `on` with `AUTOPROG_LOG_FORMAT=json`",
  }),
  logFormat: setting({
    env: "AUTOPROG_LOG_FORMAT",
    schema: z.enum(["text", "json"]),
    default: "text",
    description:
      "`text`: lines for people (the start names the dashboard, API reference, health URL and admin-key file); `json`: one JSON object per line, for log collectors",
  }),
  bootstrapKey: setting({
    env: "AUTOPROG_BOOTSTRAP_KEY",
    schema: z.string().regex(KEY_PATTERN, "must be ap_ followed by 32 to 128 characters of A-Z a-z 0-9 _ -"),
    default: unset("random (Node writes it to the data folder)"),
    description:
      "the first key (operator, homed in `default`), used only while the database has no key (`ap_` + 32 to 128 of `A-Za-z0-9_-`)",
    workers: {
      binding: "AUTOPROG_BOOTSTRAP_KEY",
      kind: "secret",
      note: "until it is set, every `/v1` request answers 503 `not_bootstrapped`",
    },
  }),
  requestsPerMinute: setting({
    env: "AUTOPROG_RATE_LIMIT_PER_MINUTE",
    schema: int(1),
    default: String(AUTH_DEFAULTS.requestsPerMinute),
    description: "requests per key per minute (fixed window), then 429 with `Retry-After`",
  }),
  workerRequestsPerMinute: setting({
    env: "AUTOPROG_WORKER_RATE_PER_MINUTE",
    schema: int(1),
    default: String(AUTH_DEFAULTS.workerRequestsPerMinute),
    description:
      "a worker key's heartbeats and event batches per minute (a budget apart from the one above), then 429 with `Retry-After`",
  }),
  failedAuthPerMinute: setting({
    env: "AUTOPROG_AUTH_FAILURES_PER_MINUTE",
    schema: int(1),
    default: String(AUTH_DEFAULTS.failedAuthPerMinute),
    description:
      "failed authentications per client address and per claimed key per minute, then failing requests get 429",
  }),
  streamsPerKey: setting({
    env: "AUTOPROG_SSE_STREAMS_PER_KEY",
    schema: int(1),
    default: String(AUTH_DEFAULTS.streamsPerKey),
    description: "event streams a key may hold open at once, then 429",
  }),
  keyCacheSeconds: setting({
    env: "AUTOPROG_KEY_CACHE_SECONDS",
    schema: int(0),
    default: String(AUTH_DEFAULTS.keyCacheSeconds),
    description:
      "how long a verified key is remembered in memory; a revocation takes effect at once on the server that made it and within this time on others (0: read the key on every request)",
  }),
  runCacheSize: setting({
    env: "AUTOPROG_RUN_CACHE_SIZE",
    schema: int(0),
    default: "10000",
    description:
      "runs whose `GET /v1/runs/{id}` answer is kept in memory until the run changes (~1 KB each, more with a long note; 0: read the run on every request)",
  }),
  sseBufferBytes: setting({
    env: "AUTOPROG_SSE_BUFFER_BYTES",
    schema: int(1024),
    default: "262144",
    description:
      "bytes an SSE client may leave unread; beyond it the stream ends with an `: overflow` comment and the client resumes with `Last-Event-ID`",
  }),
  trustProxy: setting({
    env: "AUTOPROG_TRUST_PROXY",
    schema: flag(),
    default: "false",
    description:
      "`true`: the client address is the last `X-Forwarded-For` entry (only behind a proxy that sets it)",
  }),
  streamTokenSecret: setting({
    env: "AUTOPROG_STREAM_TOKEN_SECRET",
    schema: z.string().min(32),
    default: unset("random per process"),
    description:
      "HMAC secret of stream tokens (32+ characters); set it to keep tokens valid across restarts and replicas",
    workers: {
      binding: "STREAM_TOKEN_SECRET",
      kind: "secret",
      note: "unset, each isolate has its own and a token minted by one fails in another",
    },
  }),
  maxBodyBytes: setting({
    env: "AUTOPROG_MAX_BODY_BYTES",
    schema: int(1),
    default: String(1024 * 1024),
    description: "larger request bodies (1 MiB by default) are refused with 413",
  }),
  allowedHosts: setting({
    env: "AUTOPROG_ALLOWED_HOSTS",
    schema: z.string().min(1),
    default: unset("loopback names on a loopback address, else any"),
    description:
      "comma-separated `Host` names answered (403 otherwise); on a loopback address `localhost`, `127.0.0.1`, `[::1]` by default",
  }),
  datasetRoots: setting({
    env: "AUTOPROG_DATASET_ROOTS",
    schema: z.string().min(1),
    default: unset("the data dir"),
    description:
      "`:`-separated folders a spec's `dataset.root` may name; a relative root is taken from the data dir",
  }),
  webhookAllowPrivate: setting({
    env: "AUTOPROG_WEBHOOK_ALLOW_PRIVATE",
    schema: flag(),
    default: "false",
    description: "let webhook URLs reach loopback, private and link-local addresses (local use, tests)",
  }),
  webhookTimeScale: setting({
    env: "AUTOPROG_WEBHOOK_TIME_SCALE",
    schema: positive().max(1),
    default: "1",
    description: "multiplies every wait of the webhook retry schedule (tests use 0.001)",
  }),
  webhookPollMs: setting({
    env: "AUTOPROG_WEBHOOK_POLL_MS",
    schema: int(10),
    default: "1000",
    description: "how often the deliverer looks for due messages in the outbox",
  }),
  maxRunGb: setting({
    env: "AUTOPROG_MAX_RUN_GB",
    schema: positive(),
    default: unset("½ memory ÷ trainers"),
    description: "a spec whose run needs more memory (GB) by its estimate is refused with 422",
    workers: {
      binding: "MAX_RUN_GB",
      kind: "var",
      default: String(DEFAULT_RUN_CEILINGS.maxRunBytes / 1e9),
      note: "the pull workers' machines decide it",
    },
  }),
  maxRunPflops: setting({
    env: "AUTOPROG_MAX_RUN_PFLOPS",
    schema: positive(),
    default: String(DEFAULT_RUN_CEILINGS.maxRunFlops / 1e15),
    description:
      "a spec whose run needs more work (training + evaluation PFLOP) by its estimate is refused with 422",
    workers: { binding: "MAX_RUN_PFLOPS", kind: "var" },
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;

/** Workers bindings that are resources rather than settings (wrangler.toml declares them). */
export const WORKERS_RESOURCES = [
  { binding: "DB", kind: "D1", description: "the database" },
  {
    binding: "CHECKPOINTS",
    kind: "R2 (optional)",
    description: "where pull workers' checkpoints are kept; unbound, the checkpoint routes answer 503",
  },
] as const;
