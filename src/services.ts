import type { Context } from "hono";
import type { Db } from "../db/database.ts";
import type { KeyRole } from "../db/schema.ts";
import type { RunAnswerCache } from "../routes/runs/answer-cache.ts";
import type { RunCeilings } from "./core/run-cost.ts";
import type { RunControl } from "./dispatch/control.ts";
import type { EventSink } from "./events/sink.ts";
import type { UrlPolicy } from "./events/webhooks/address-guard.ts";

/** The files a run leaves under the data folder (checkpoints); a no-op where there are none. */
export interface RunArtifacts {
  /** Removes every file of the run. */
  remove(runId: string): Promise<void>;
}

/**
 * Where the API keeps the checkpoints pull workers upload (one packed body per run and epoch,
 * src/checkpoints/wire.ts). Not the trainer's own CheckpointStore (src/train/checkpoint.ts, a
 * run's folder as the trainer saves and resumes it): this one holds what the API accepted.
 * Node: a folder under the data folder; Workers: an R2 bucket.
 */
export interface UploadedCheckpointStore {
  /** Stores the packed checkpoint, replacing one of the same epoch; a reader never sees half of it. */
  put(runId: string, epoch: number, body: Uint8Array): Promise<void>;
  /** The packed checkpoint, or null when there is none for that epoch. */
  get(runId: string, epoch: number): Promise<Uint8Array<ArrayBuffer> | null>;
  /** The run's whole checkpoints, oldest first. */
  list(runId: string): Promise<StoredCheckpoint[]>;
  /** Removes every checkpoint of the run. */
  remove(runId: string): Promise<void>;
}

export interface StoredCheckpoint {
  /** Epochs it covers. */
  readonly epoch: number;
  /** Its size as stored (Node: meta and data files; R2: the packed object). */
  readonly bytes: number;
}

/** What the pull-worker routes need (routes/workers). */
export interface WorkerServices {
  /** A lease lasts this long past its last heartbeat or accepted event batch. */
  readonly leaseMs: number;
  /** Null: no store is bound; the checkpoint routes answer 503. */
  readonly checkpoints: UploadedCheckpointStore | null;
  /** Larger checkpoint uploads are refused with 413. */
  readonly maxCheckpointBytes: number;
  /** How often a long-polling lease request looks at the queue again. */
  readonly pollMs: number;
  /** Called once a run ends through a worker's terminal event (Node prunes its checkpoints). */
  readonly onRunFinished?: (runId: string) => Promise<void>;
}

/** Who is asking: the key that authenticated the request, its project and its role. */
export interface Principal {
  readonly keyId: string;
  readonly projectId: string;
  readonly role: KeyRole;
}

// The parts authentication needs at run time, as interfaces: src/auth implements them
// (auth/limits.ts, auth/stream-token.ts) and reads them from AppEnv, so it stands above this file.

export interface Verdict {
  readonly allowed: boolean;
  /** Whole seconds until the window that refused the hit ends (0 when allowed). */
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Counts one hit for `key`; refuses it when the window already holds `limit` hits. */
  hit(key: string, now: number): Verdict;
  /** Whether a hit for `key` would be refused now, without counting one. */
  check(key: string, now: number): Verdict;
}

export interface StreamSlots {
  /** Takes one of `key`'s concurrent stream slots: the release function, or null when all are taken. */
  acquire(key: string): (() => void) | null;
}

export interface StreamTokenClaims {
  readonly runId: string;
  readonly keyId: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

export interface StreamTokens {
  mint(claims: StreamTokenClaims): Promise<string>;
  /** The claims of a well-signed token, or null (expiry is the caller's check, against its clock). */
  verify(token: string): Promise<StreamTokenClaims | null>;
}

/**
 * Keys verified recently (src/auth/verified-keys.ts): what a key resolves to is remembered for
 * `ttlMs`, so revoking a key takes effect at once in the process that revoked it (`forget`) and
 * within `ttlMs` in every other.
 */
export interface VerifiedKeys {
  readonly ttlMs: number;
  /** The principal of a key by its SHA-256 hex, while remembered. */
  byKeyHash(hash: string, now: number): Principal | undefined;
  /** The principal of a key by its id (stream tokens name it), while remembered. */
  byKeyId(keyId: string, now: number): Principal | undefined;
  remember(hash: string, principal: Principal, now: number): void;
  /** Drops the key at once (it was revoked or changed here). */
  forget(keyId: string): void;
}

/** Authentication's runtime parts; they outlive a request (counts, the token secret). */
export interface AuthServices {
  /**
   * Failed authentications, counted per client address and per claimed key (`address:…`,
   * `key:…`); it only ever refuses requests that fail to authenticate.
   */
  readonly failedAuth: RateLimiter;
  /** Requests per key. */
  readonly requests: RateLimiter;
  /** A worker key's heartbeats and event batches: a budget of their own, apart from `requests`. */
  readonly workerRequests: RateLimiter;
  /** Concurrent event streams per key. */
  readonly streams: StreamSlots;
  readonly streamTokens: StreamTokens;
  /** Keys verified recently; see VerifiedKeys. */
  readonly verifiedKeys: VerifiedKeys;
  /** SHA-256 hex of a presented key (src/auth/keys.ts `hashKey`; Node passes its synchronous one). */
  readonly hashKey: (key: string) => string | Promise<string>;
  /** The client's address, as the runtime knows it (a proxy's header only when trusted). */
  readonly clientAddress: (c: Context) => string;
}

/** What the webhook routes need of the runtime. */
export interface WebhookServices {
  /** Which URLs endpoints may have (checked at creation and again at every delivery). */
  readonly policy: UrlPolicy;
  /** A message is due now: deliver it without waiting for the next poll (no-op where a cron delivers). */
  wake(): void;
}

/**
 * What a request handler may use, as interfaces only: built per request by a middleware from
 * the runtime's bindings (Node: better-sqlite3, the in-memory hub, trainer processes; tests pass
 * their own).
 */
export interface Services {
  readonly db: Db;
  readonly events: EventSink;
  readonly dispatcher: RunControl;
  readonly artifacts: RunArtifacts;
  readonly webhooks: WebhookServices;
  readonly clock: () => number;
  readonly sseHeartbeatMs: number;
  /** Unread bytes an SSE client may leave before it is disconnected (AUTOPROG_SSE_BUFFER_BYTES); absent: 256 KiB. */
  readonly sseBufferBytes?: number;
  readonly idempotencyTtlMs: number;
  readonly auth: AuthServices;
  /** The pull-worker protocol's settings and checkpoint store; absent: defaults, no store. */
  readonly workers?: WorkerServices;
  /** Folders a spec's `dataset.root` may name (Node: AUTOPROG_DATASET_ROOTS); absent: inside the data folder. */
  readonly datasetRoots?: DatasetRootPolicy;
  /** What one run may need (AUTOPROG_MAX_RUN_GB / _PFLOPS); absent: core's DEFAULT_RUN_CEILINGS. */
  readonly runCeilings?: RunCeilings;
  /** How the queue shares trainers among projects; absent: no quota. */
  readonly queuePolicy?: QueuePolicy;
  /** GET /v1/runs/{id}'s answers kept until their run changes (Node: AUTOPROG_RUN_CACHE_SIZE); absent: every GET reads the run. */
  readonly runAnswers?: RunAnswerCache;
}

/** How the queue shares trainers among projects (claims are fair across them either way). */
export interface QueuePolicy {
  /** Runs one project may have running at once (AUTOPROG_PROJECT_MAX_RUNNING); null: no quota. */
  readonly projectMaxRunning: number | null;
}

/**
 * Where a spec's `dataset.root` may point: relative roots are taken from `dataDir`, and the
 * resolved folder, symlinks followed, must lie under one of `allowed` (absolute POSIX paths).
 */
export interface DatasetRootPolicy {
  readonly dataDir: string;
  readonly allowed: readonly string[];
  /**
   * The absolute path with its symlinks resolved (Node: `fs.realpath` on its deepest existing
   * part), or null when it cannot be (a broken or looping link); absent: paths are judged by
   * their text only (Workers, which train nothing).
   */
  readonly realpath?: (path: string) => Promise<string | null>;
}

/**
 * Read these with `c.get("services")`, not `c.var.services`: Hono builds a fresh object of all
 * the variables on every `c.var` access, a few microseconds each on the request's path.
 */
export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    /** The project the request acts in (everything it reads or writes is scoped to it). */
    projectId: string;
    /** The key behind the request (set on every `/v1` route). */
    principal: Principal;
  };
}
