import type { Db } from "../../db/database.ts";
import { readEvents } from "../../db/events.ts";
import { getRun } from "../../db/runs.ts";
import { TERMINAL_STATES } from "../../db/schema.ts";
import type { EventHub, PublishedEvent } from "./hub.ts";

/** What a follower receives: stored events in seq order, idle heartbeats, then the end. */
export type FollowItem =
  | { readonly kind: "event"; readonly seq: number; readonly type: string; readonly payload: string }
  | { readonly kind: "heartbeat" }
  | { readonly kind: "end"; readonly state: string | undefined; readonly lastSeq: number };

export interface FollowOptions {
  /** Replay events after this seq. */
  readonly after: number;
  /** A heartbeat is yielded after this long without an event. */
  readonly heartbeatMs: number;
  /** Stops the iteration (the client went away). */
  readonly signal?: AbortSignal;
}

/** Events read from the database per query while catching up. */
const PAGE = 200;
/** Live events a follower may hold before it falls back to reading the database. */
const MAX_PENDING = 256;

/**
 * Replay, then live: everything after `after` is read from the log, then events come from the
 * hub as they are stored, each exactly once and in seq order. A follower that falls behind (a
 * gap, or more than MAX_PENDING waiting) drops what it holds and reads the database again. The
 * iteration ends with an `end` item once the run is terminal. Shared by SSE and, later,
 * webhooks and the dashboard.
 */
export async function* followRun(
  db: Db,
  hub: EventHub,
  runId: string,
  options: FollowOptions,
): AsyncGenerator<FollowItem> {
  const { signal } = options;
  let cursor = options.after;
  const pending: PublishedEvent[] = [];
  let overflowed = false;
  let wake: () => void = () => {};
  const unsubscribe = hub.subscribe(runId, (event) => {
    if (pending.length < MAX_PENDING) pending.push(event);
    else overflowed = true;
    wake();
  });
  const onAbort = () => wake();
  signal?.addEventListener("abort", onAbort);
  try {
    let fromDatabase = true;
    while (!signal?.aborted) {
      if (fromDatabase || overflowed) {
        fromDatabase = false;
        overflowed = false;
        pending.length = 0;
        // State first: a terminal state means its terminal event is already in the log.
        const state = (await getRun(db, runId))?.state;
        const rows = await readEvents(db, runId, cursor, PAGE);
        for (const row of rows) {
          yield { kind: "event", seq: row.seq, type: row.type, payload: row.payload };
          cursor = row.seq;
        }
        if (rows.length === PAGE) {
          fromDatabase = true;
          continue;
        }
        if (state === undefined || TERMINAL_STATES.includes(state)) {
          yield { kind: "end", state, lastSeq: cursor };
          return;
        }
      }
      while (pending.length > 0 && !overflowed) {
        const event = pending.shift() as PublishedEvent;
        if (event.seq <= cursor) continue;
        if (event.seq !== cursor + 1) {
          fromDatabase = true;
          break;
        }
        yield { kind: "event", seq: event.seq, type: event.type, payload: event.payload };
        cursor = event.seq;
        if (event.terminal) {
          yield { kind: "end", state: (await getRun(db, runId))?.state, lastSeq: cursor };
          return;
        }
      }
      if (fromDatabase || overflowed || pending.length > 0) continue;
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), options.heartbeatMs);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = () => {};
      if (!woken && !signal?.aborted) {
        yield { kind: "heartbeat" };
        // Quiet for a whole heartbeat: look at the log too, for events another process stored
        // (a second server on the same database, or a runtime whose hub cannot wake us).
        fromDatabase = true;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}
