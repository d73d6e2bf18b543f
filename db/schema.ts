import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { BackendReport, RunResult } from "../src/core/events.ts";
import type { ExperimentSpec } from "../src/core/spec.ts";

/**
 * The service's tables. Times are milliseconds since the epoch; JSON columns hold what the
 * trainer reported, as it reported it. Written only through the repository functions beside
 * this file, as single statements or batches (D1 has no interactive transactions).
 */

export const RUN_STATES = ["queued", "running", "paused", "completed", "failed", "cancelled"] as const;
export type RunState = (typeof RUN_STATES)[number];
export const TERMINAL_STATES: readonly RunState[] = ["completed", "failed", "cancelled"];

/** The project of everything created before projects existed, and of a server without keys. */
export const DEFAULT_PROJECT = "default";

export const experiments = sqliteTable(
  "experiments",
  {
    id: text("id").primaryKey(),
    /** Who may see the experiment and its runs: requests of other projects get 404. */
    projectId: text("project_id").notNull().default(DEFAULT_PROJECT),
    name: text("name").notNull(),
    description: text("description"),
    /** The normalised spec (every default filled in). */
    spec: text("spec", { mode: "json" }).$type<ExperimentSpec>().notNull(),
    /** The user's labels (PATCH), searchable with `tag=`; a JSON array of distinct strings. */
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull().default([]),
    /** The user's free-text note (PATCH), searched by `q=` with the name. */
    note: text("note"),
    createdAt: integer("created_at").notNull(),
  },
  (table) => [index("experiments_project").on(table.projectId, table.id)],
);

export const runs = sqliteTable(
  "runs",
  {
    id: text("id").primaryKey(),
    experimentId: text("experiment_id")
      .notNull()
      .references(() => experiments.id),
    /** The arm's kind (`original`, `prog`, …) and its name within the experiment. */
    arm: text("arm").notNull(),
    label: text("label").notNull(),
    seed: integer("seed").notNull(),
    /** Order within the experiment: arms × seeds as the spec lists them. */
    position: integer("position").notNull(),
    state: text("state", { enum: RUN_STATES }).notNull().default("queued"),
    /** How many times a trainer has started this run. */
    attempt: integer("attempt").notNull().default(0),
    cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
    /**
     * Someone asked to pause the run while a trainer had it: the trainer stops at its next step
     * boundary and reports `run.paused`, which makes the run `paused` and clears this.
     */
    pauseRequested: integer("pause_requested", { mode: "boolean" }).notNull().default(false),
    /** Who trains the run now (a dispatcher's id) while it is `running`; null otherwise. */
    leaseOwner: text("lease_owner"),
    /** The lease ends here unless its owner heartbeats; an expired lease re-queues the run. */
    leaseExpiresAt: integer("lease_expires_at"),
    backendRequested: text("backend_requested").notNull(),
    backend: text("backend", { mode: "json" }).$type<BackendReport>(),
    epochs: integer("epochs").notNull(),
    epochsCompleted: integer("epochs_completed").notNull().default(0),
    /** Epochs covered by the newest checkpoint the trainer reported. */
    checkpointEpoch: integer("checkpoint_epoch"),
    /** Seq of the run's newest event (0 = none). */
    lastSeq: integer("last_seq").notNull().default(0),
    top1: real("top1"),
    bestTop1: real("best_top1"),
    wallSeconds: real("wall_seconds"),
    trainSeconds: real("train_seconds"),
    flopsPerImageMean: real("flops_per_image_mean"),
    flopsFull: real("flops_full"),
    failureReason: text("failure_reason"),
    failureMessage: text("failure_message"),
    result: text("result", { mode: "json" }).$type<RunResult>(),
    /** The user's labels and note, as on experiments. */
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull().default([]),
    note: text("note"),
    /** A fork's parent (`POST /v1/runs/{id}/fork`): the run whose checkpoint it started from. */
    parentRunId: text("parent_run_id"),
    /** Epochs of the parent's checkpoint the fork started from; its metrics up to there are the parent's. */
    forkEpoch: integer("fork_epoch"),
    /** The run's own spec when it is not its experiment's (a fork's arm and training); null: the experiment's. */
    spec: text("spec", { mode: "json" }).$type<ExperimentSpec>(),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("runs_experiment_label_seed").on(t.experimentId, t.label, t.seed),
    index("runs_state_created").on(t.state, t.createdAt),
    index("runs_state_lease").on(t.state, t.leaseExpiresAt),
    // GET /v1/runs pages by creation time across experiments.
    index("runs_created").on(t.createdAt, t.experimentId, t.position),
  ],
);

export const STAGE_STATES = ["planned", "running", "completed"] as const;

/** One row per stage: the plan at submission, then what the trainer reported. */
export const stages = sqliteTable(
  "stages",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    stage: integer("stage").notNull(),
    startEpoch: integer("start_epoch").notNull(),
    epochs: integer("epochs").notNull(),
    /** Null while a search has yet to decide the stage's sub-network. */
    depth: integer("depth"),
    side: integer("side"),
    tokens: integer("tokens"),
    flopsPerImage: real("flops_per_image"),
    state: text("state", { enum: STAGE_STATES }).notNull().default("planned"),
    /** The growth that opened the stage, as reported (`stage.grown`). */
    operator: text("operator"),
    growth: text("growth", { mode: "json" }).$type<Record<string, unknown>>(),
    startedAt: integer("started_at"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stage] })],
);

/** Every candidate a stage's search scored; the JSON keeps fields this table does not name. */
export const searchCandidates = sqliteTable(
  "search_candidates",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    stage: integer("stage").notNull(),
    idx: integer("idx").notNull(),
    depth: integer("depth"),
    side: integer("side"),
    tokens: integer("tokens"),
    loss: real("loss"),
    /** Seconds per step, or FLOPs per image when the search is deterministic. */
    cost: real("cost"),
    score: real("score"),
    selected: integer("selected", { mode: "boolean" }),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stage, t.idx] })],
);

/**
 * The run's event log: gap-free seq from 1, the SSE id and webhook id. `replay_key` names an
 * event's place in the trainer's deterministic stream, so a run resumed from a checkpoint that
 * re-emits an event already stored is ignored by the unique index (see src/events/replay-key.ts).
 */
export const runEvents = sqliteTable(
  "run_events",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
    attempt: integer("attempt").notNull(),
    replayKey: text("replay_key"),
    payload: text("payload").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.seq] }),
    uniqueIndex("run_events_replay_key").on(t.runId, t.replayKey),
  ],
);

/**
 * Scalar series per run: one row per reported step (an epoch) holding every series' value at it,
 * `{ "train.loss": 0.41, "lr": 0.0005, … }`. One row per epoch instead of one per value is what
 * lets the event sink store tens of thousands of epochs a second (docs/service.md, Throughput).
 * A re-sent step keeps the values stored and adds only keys it lacked (db/derived.ts), so a
 * replay is harmless. The migration makes it a WITHOUT ROWID table (the key is the row).
 */
export const metricPoints = sqliteTable(
  "metric_points",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    step: integer("step").notNull(),
    epoch: integer("epoch"),
    /** Series key → finite value (core/metric-keys.ts names the keys). */
    metricValues: text("metric_values", { mode: "json" }).$type<Record<string, number>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step] })],
);

export const IDEMPOTENCY_STATES = ["in_flight", "completed"] as const;

/** IETF Idempotency-Key records: the request fingerprint and, once done, the response. */
export const idempotencyKeys = sqliteTable("idempotency_keys", {
  key: text("key").primaryKey(),
  fingerprint: text("fingerprint").notNull(),
  state: text("state", { enum: IDEMPOTENCY_STATES }).notNull(),
  status: integer("status"),
  body: text("body", { mode: "json" }).$type<unknown>(),
  location: text("location"),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/** A tenant: experiments, runs and webhooks belong to one; keys act in one. The id is its name. */
export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  createdAt: integer("created_at").notNull(),
});

/**
 * `operator` keys create projects and manage every project's keys; they are made only by the
 * first start (the bootstrap key) or `autoprog keys create --role operator` on the database,
 * never over HTTP. The other roles are a project's: `admin` manages its project's keys.
 */
export const KEY_ROLES = ["operator", "admin", "member", "worker"] as const;
export type KeyRole = (typeof KEY_ROLES)[number];
/** The roles a key created over HTTP may have. */
export const PROJECT_KEY_ROLES = ["admin", "member", "worker"] as const satisfies readonly KeyRole[];

/**
 * API keys. Only the SHA-256 of a key is stored (the key itself is shown once, at creation);
 * a revoked key keeps its row, so lists show who had access and when it ended.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id),
    role: text("role", { enum: KEY_ROLES }).notNull(),
    name: text("name").notNull(),
    /** Hex SHA-256 of the whole key: the lookup index. */
    hash: text("hash").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Refreshed at most once a minute (a write per request would cost more than it tells). */
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.hash), index("api_keys_project").on(t.projectId, t.id)],
);

/**
 * Webhook endpoints of a project (Standard Webhooks). The secret is shown once, at creation or
 * rotation; the previous one keeps signing alongside until `previousSecretExpiresAt`, so a
 * receiver can switch without dropping a delivery.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    /** The webhook types it subscribes to. */
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** Why the deliverer disabled it (410 Gone, or every attempt of a message failed). */
    disabledReason: text("disabled_reason"),
    disabledAt: integer("disabled_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhook_endpoints_project").on(t.projectId, t.id)],
);

export const OUTBOX_STATES = ["pending", "delivered", "failed"] as const;

/**
 * The transactional outbox: one row per message and endpoint, written in the same batch as the
 * event that causes it. The deliverer polls rows that are due; a claim moves `nextAttemptAt`
 * past the attempt's timeout, so a deliverer that dies mid-attempt leaves the row due again.
 */
export const webhookOutbox = sqliteTable(
  "webhook_outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id),
    /** The `webhook-id` header: the same on every attempt and redelivery of the message. */
    messageId: text("message_id").notNull(),
    type: text("type").notNull(),
    /** The exact bytes that are signed and sent. */
    body: text("body").notNull(),
    state: text("state", { enum: OUTBOX_STATES }).notNull().default("pending"),
    /** Failed attempts of the current schedule (a redelivery starts a new one). */
    failures: integer("failures").notNull().default(0),
    /** Attempts ever made (numbers the deliveries). */
    attempts: integer("attempts").notNull().default(0),
    /** Null once the row is no longer pending. */
    nextAttemptAt: integer("next_attempt_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_outbox_message").on(t.endpointId, t.messageId),
    index("webhook_outbox_due").on(t.state, t.nextAttemptAt),
  ],
);

/** Every delivery attempt, as the endpoint's delivery log shows it. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    outboxId: integer("outbox_id")
      .notNull()
      .references(() => webhookOutbox.id),
    endpointId: text("endpoint_id").notNull(),
    messageId: text("message_id").notNull(),
    type: text("type").notNull(),
    attempt: integer("attempt").notNull(),
    /** The receiver's HTTP status; null when none came (refused, timeout, network error). */
    status: integer("status"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhook_deliveries_endpoint").on(t.endpointId, t.id)],
);
