import type { Db } from "../db/client.ts";
import type { RunControl } from "./dispatch/dispatcher.ts";
import type { EventSink } from "./events/sink.ts";

/** What a request handler may use; built per request by a middleware (tests pass their own). */
export interface Services {
  readonly db: Db;
  readonly events: EventSink;
  readonly dispatcher: RunControl;
  readonly clock: () => number;
  readonly sseHeartbeatMs: number;
  readonly idempotencyTtlMs: number;
}

export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
  };
}
