import type { Db } from "../db/database.ts";
import type { RunControl } from "./dispatch/control.ts";
import type { EventSink } from "./events/sink.ts";
import type { UrlPolicy } from "./events/webhooks/address-guard.ts";

/** The files a run leaves under the data folder (checkpoints); a no-op where there are none. */
export interface RunArtifacts {
  /** Removes every file of the run. */
  remove(runId: string): Promise<void>;
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
 * the runtime's bindings (Node: better-sqlite3, the in-memory hub, worker threads; tests pass
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
  readonly idempotencyTtlMs: number;
}

export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    /** The project the request acts in (everything it reads or writes is scoped to it). */
    projectId: string;
  };
}
