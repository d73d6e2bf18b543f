import type { Db } from "../../db/client.ts";
import { recordEvent } from "../../db/events.ts";
import { derivedStatements } from "./derive.ts";
import type { EventHub } from "./hub.ts";

export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(["run.completed", "run.failed"]);

/** An event as the sink takes it: a trainer event or a server-side one of the same shape. */
export type SinkEvent = { readonly type: string };

/**
 * The one way events enter the system: each event is written with its derived rows in one
 * batch, then live subscribers are woken. Writes for one run are chained so they keep the
 * order the trainer emitted them in, whatever the database's latency.
 */
export class EventSink {
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: Db,
    readonly hub: EventHub,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Stores the event; returns its seq, or null when the replay key shows it is stored already. */
  record(runId: string, attempt: number, event: SinkEvent, replayKey: string | null): Promise<number | null> {
    const previous = this.tails.get(runId) ?? Promise.resolve();
    const next = previous.then(() => this.write(runId, attempt, event, replayKey));
    const tail = next.catch(() => undefined);
    this.tails.set(runId, tail);
    void tail.then(() => {
      if (this.tails.get(runId) === tail) this.tails.delete(runId);
    });
    return next;
  }

  /** Resolves once every event handed in for the run so far is written. */
  async drained(runId: string): Promise<void> {
    await this.tails.get(runId);
  }

  private async write(
    runId: string,
    attempt: number,
    event: SinkEvent,
    replayKey: string | null,
  ): Promise<number | null> {
    const now = this.clock();
    const payload = JSON.stringify(event);
    const seq = await recordEvent(
      this.db,
      { runId, attempt, replayKey, type: event.type, payload, createdAt: now },
      derivedStatements(this.db, runId, event as Readonly<Record<string, unknown>>, now),
    );
    if (seq !== null) {
      this.hub.publish(runId, { seq, type: event.type, payload, terminal: TERMINAL_EVENTS.has(event.type) });
    }
    return seq;
  }
}
