import type { Db } from "../../db/database.ts";
import { readEvents } from "../../db/events.ts";
import { runStateOf } from "../../db/runs.ts";
import { TERMINAL_STATES } from "../../db/schema.ts";
import { nextTurn } from "../kit/next-turn.ts";
import type { EventHub, LiveEvent } from "./hub.ts";
import { type EventStreamOutput, encodeText, eventFrame } from "./sse-output.ts";

export interface FollowOptions {
  /** Replay events after this seq. */
  readonly after: number;
  /** A heartbeat comment is written after this long without an event. */
  readonly heartbeatMs: number;
  /**
   * Bytes the client may leave unread: past it the stream ends with an `: overflow` comment
   * (the client reconnects with `Last-Event-ID` and is replayed the rest from the log).
   */
  readonly bufferBytes: number;
}

/** Events read from the database per query while catching up. */
const PAGE = 200;
/** Live events held while the log is read; more and they are dropped and the log read again. */
const MAX_HELD = 4096;

const HEARTBEAT = encodeText(": heartbeat\n\n");

/** The run's state after its terminal event, read once for all the streams that had the event. */
const terminalStates = new WeakMap<LiveEvent, Promise<string | undefined>>();
function terminalStateOf(db: Db, runId: string, event: LiveEvent): Promise<string | undefined> {
  let state = terminalStates.get(event);
  if (!state) {
    state = runStateOf(db, runId);
    terminalStates.set(event, state);
  }
  return state;
}

/**
 * Streams one run's events to one client as SSE: everything after `after` from the log, then
 * live. Once caught up, each event the hub publishes is written as the hub's shared bytes, at
 * once, with no database read and no per-subscriber allocation: one socket write per
 * subscriber. A gap (an event stored by another process, or events published while the client
 * was being replayed) is filled from the log. A client that leaves more than `bufferBytes`
 * unread is disconnected with a reason (`: overflow …`), so a slow client costs bounded memory
 * and resumes with `Last-Event-ID`. After a quiet `heartbeatMs` a comment is written and the log
 * is looked at (another process's events; Workers' hub wakes nobody). Ends with an `end` event
 * once the run is terminal. Resolves when the stream is over, however it ends.
 */
export function followRun(
  db: Db,
  hub: EventHub,
  runId: string,
  output: EventStreamOutput,
  options: FollowOptions,
): Promise<void> {
  let cursor = options.after;
  let live = false;
  let finished = false;
  let readingLog = false;
  let readAgain = false;
  let held: LiveEvent[] = [];
  let lastWriteAt = Date.now();
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });

  const write = (frame: Uint8Array) => {
    output.write(frame);
    lastWriteAt = Date.now();
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    unsubscribe();
    clearInterval(heartbeat);
    output.end();
    resolveDone();
  };

  const end = (state: string | undefined) => {
    if (finished) return;
    const lastSeq = cursor;
    write(encodeText(`event: end\ndata: ${JSON.stringify({ state, lastSeq })}\n\n`));
    finish();
  };

  /**
   * Too much unread: say why and close; the client resumes after the last seq it received.
   * Judged after the turn of the event loop that wrote it: Node sends a turn's writes together
   * when the turn ends, so a burst of events (one batch) is not mistaken for a slow client.
   */
  let overflowCheck = false;
  const checkOverflow = () => {
    if (overflowCheck || output.bufferedBytes <= options.bufferBytes) return;
    overflowCheck = true;
    nextTurn(() => {
      overflowCheck = false;
      if (finished || output.bufferedBytes <= options.bufferBytes) return;
      output.write(
        encodeText(
          `: overflow: the client left more than ${options.bufferBytes} bytes unread; reconnect with Last-Event-ID\n\n`,
        ),
      );
      finish();
    });
  };

  const onEvent = (event: LiveEvent) => {
    if (finished) return;
    if (!live) {
      if (held.length < MAX_HELD) held.push(event);
      else {
        held = [];
        readAgain = true;
      }
      return;
    }
    if (event.seq <= cursor) return;
    if (event.seq !== cursor + 1) {
      held.push(event);
      refresh();
      return;
    }
    write(event.frame);
    cursor = event.seq;
    checkOverflow();
    if (event.terminal) finishTerminal(event).catch(finish);
  };

  const finishTerminal = async (event: LiveEvent) => {
    end(await terminalStateOf(db, runId, event));
  };

  /** Reads the log from the cursor, then writes the events held meanwhile and goes live. */
  const readLog = async (): Promise<void> => {
    if (finished) return;
    if (readingLog) {
      readAgain = true;
      return;
    }
    readingLog = true;
    live = false;
    try {
      do {
        readAgain = false;
        for (;;) {
          // State first: a terminal state means its terminal event is already in the log.
          const state = await runStateOf(db, runId);
          const rows = await readEvents(db, runId, cursor, PAGE);
          if (finished) return;
          for (const row of rows) {
            write(eventFrame(row.seq, row.type, row.payload));
            cursor = row.seq;
          }
          if (output.bufferedBytes > options.bufferBytes) await output.drained();
          if (finished || output.closed) return finish();
          if (rows.length === PAGE) continue;
          if (state === undefined || TERMINAL_STATES.includes(state)) return end(state);
          break;
        }
        // Nothing awaits from here on: the held events are written and the stream goes live in
        // one go, so no event published in between is missed.
        const pending = held;
        held = [];
        for (const event of pending) {
          if (event.seq <= cursor) continue;
          if (event.seq !== cursor + 1) {
            readAgain = true;
            break;
          }
          write(event.frame);
          cursor = event.seq;
          if (event.terminal) {
            await finishTerminal(event);
            return;
          }
        }
        if (!readAgain) live = true;
      } while (readAgain && !finished);
    } finally {
      readingLog = false;
    }
  };

  /** Reads the log now; a database error ends the stream (the client resumes where it was). */
  const refresh = () => {
    readLog().catch(finish);
  };

  const unsubscribe = hub.subscribe(runId, onEvent);
  output.onClose(finish);
  const heartbeat = setInterval(
    () => {
      if (finished || Date.now() - lastWriteAt < options.heartbeatMs) return;
      write(HEARTBEAT);
      // Quiet for a whole heartbeat: look at the log too, for events another process stored.
      refresh();
    },
    Math.max(10, Math.floor(options.heartbeatMs / 2)),
  );
  refresh();
  return done;
}
