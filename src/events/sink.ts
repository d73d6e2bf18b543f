import { canBatch, type Db } from "../../db/database.ts";
import { derivedStatements, derivedStatementsPrepared } from "../../db/derived.ts";
import { type EventOutcome, type EventWrite, recordEvent, recordEventsTogether } from "../../db/events.ts";
import { runMessageStatement } from "../../db/webhooks.ts";
import { TERMINAL_EVENT_TYPES, type TrainingEvent, TrainingEventSchema } from "../core/events.ts";
import { runWebhookBodyParts, webhookOfEvent } from "../core/webhook-events.ts";
import { nextTurn } from "../kit/next-turn.ts";
import type { EventHub } from "./hub.ts";

/** The one way events enter the system (the app and the dispatcher see only this). */
export interface EventSink {
  readonly hub: EventHub;
  /**
   * Stores the event (parsed against the contract first) with its derived rows, then wakes
   * followers. Resolves with its seq, or null when its replay key shows it is stored already;
   * rejects when it could not be stored, and then every later event of the same attempt
   * rejects too, so nothing after a lost event is stored.
   */
  record(
    runId: string,
    attempt: number,
    event: TrainingEvent,
    replayKey: string | null,
  ): Promise<number | null>;
  /** Resolves once every event handed in for the run so far is settled. */
  drained(runId: string): Promise<void>;
}

/** An event handed to the sink, waiting for the next write. */
interface Queued {
  readonly runId: string;
  readonly attempt: number;
  readonly input: TrainingEvent;
  readonly replayKey: string | null;
  readonly resolve: (seq: number | null) => void;
  readonly reject: (error: Error) => void;
}

/** An event parsed and ready to write, with what it publishes once stored. */
interface Ready extends EventWrite {
  readonly queued: Queued;
  readonly type: string;
}

/**
 * The sink over the database. Events handed in by every writer (embedded trainers, pull
 * workers' batches, the dispatcher) wait for the next turn of the event loop and are then
 * written together: on better-sqlite3 in one transaction (db/events.ts `recordEventsTogether`),
 * each event with its derived rows and webhook outbox rows, so a crash loses none of them and a
 * promise resolves only once its event is committed. Events of one run are written in the
 * order they were handed in; the seq is computed inside the insert, so it stays gap-free. On D1
 * (Workers) each event is its own `db.batch`, one after another.
 */
export class StoredEventSink implements EventSink {
  private queue: Queued[] = [];
  private writing = false;
  private scheduled = false;
  /** The attempt of each run whose write failed: its later events are refused. */
  private readonly failed = new Map<string, number>();
  /** The newest event handed in per run, for `drained`. */
  private readonly newest = new Map<string, Promise<number | null>>();

  constructor(
    private readonly db: Db,
    readonly hub: EventHub,
    private readonly clock: () => number = Date.now,
  ) {}

  record(
    runId: string,
    attempt: number,
    input: TrainingEvent,
    replayKey: string | null,
  ): Promise<number | null> {
    const stored = new Promise<number | null>((resolve, reject) => {
      this.queue.push({ runId, attempt, input, replayKey, resolve, reject });
    });
    this.newest.set(runId, stored);
    const forget = () => {
      if (this.newest.get(runId) === stored) this.newest.delete(runId);
    };
    void stored.then(forget, forget);
    this.schedule();
    return stored;
  }

  async drained(runId: string): Promise<void> {
    await this.newest.get(runId)?.catch(() => undefined);
  }

  /** One write per turn of the event loop, never two at once (a run's events keep their order). */
  private schedule() {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    nextTurn(() => {
      this.scheduled = false;
      void this.writeQueued();
    });
  }

  /**
   * Writes what is queued, then leaves the rest to the next turn: events handed in while this
   * write's promises settle wait for it, so a writer that awaits each event cannot keep the
   * event loop from other work (sockets, timers) in a chain of microtasks.
   */
  private async writeQueued() {
    this.writing = true;
    try {
      const batch = this.queue;
      this.queue = [];
      await this.write(batch);
    } finally {
      this.writing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  /** Whether the run's attempt lost an event already (a new attempt starts afresh). */
  private poisoned(runId: string, attempt: number): boolean {
    const failedAttempt = this.failed.get(runId);
    if (failedAttempt === undefined) return false;
    if (failedAttempt === attempt) return true;
    this.failed.delete(runId);
    return false;
  }

  private async write(batch: readonly Queued[]) {
    const now = this.clock();
    const ready: Ready[] = [];
    for (const queued of batch) {
      if (this.poisoned(queued.runId, queued.attempt)) {
        queued.reject(new Error(`an earlier event of attempt ${queued.attempt} was not stored`));
        continue;
      }
      try {
        ready.push(this.prepare(queued, now));
      } catch (error) {
        this.failed.set(queued.runId, queued.attempt);
        queued.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (ready.length === 0) return;
    let outcomes: EventOutcome[];
    if (canBatch(this.db)) outcomes = await this.writeEach(ready);
    else {
      try {
        outcomes = recordEventsTogether(this.db, ready, now, (write, failedSoFar) =>
          failedSoFar.some(
            (f) => f.event.runId === write.event.runId && f.event.attempt === write.event.attempt,
          ),
        );
      } catch (error) {
        outcomes = ready.map(() => (error instanceof Error ? error : new Error(String(error))));
      }
    }
    ready.forEach((item, i) => {
      const outcome = outcomes[i] ?? null;
      const { queued } = item;
      if (outcome instanceof Error) {
        this.failed.set(queued.runId, queued.attempt);
        queued.reject(outcome);
        return;
      }
      if (outcome !== null) {
        this.hub.publish(queued.runId, {
          seq: outcome,
          type: item.type,
          payload: item.event.payload,
          terminal: TERMINAL_EVENT_TYPES.has(item.type),
        });
      }
      queued.resolve(outcome);
    });
  }

  /** D1: one batch per event, in order; an event after a lost one of its attempt is not written. */
  private async writeEach(ready: readonly Ready[]): Promise<EventOutcome[]> {
    const outcomes: EventOutcome[] = [];
    for (const item of ready) {
      const { runId, attempt } = item.queued;
      if (this.poisoned(runId, attempt)) {
        outcomes.push(new Error(`an earlier event of attempt ${attempt} was not stored`));
        continue;
      }
      try {
        outcomes.push(await recordEvent(this.db, item.event, item.statements));
      } catch (error) {
        this.failed.set(runId, attempt);
        outcomes.push(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return outcomes;
  }

  /** Parses the event against the contract and builds its statements (throws when it does not parse). */
  private prepare(queued: Queued, now: number): Ready {
    const { runId, attempt, replayKey } = queued;
    const event = TrainingEventSchema.parse(queued.input);
    const payload = JSON.stringify(event);
    const webhook = webhookOfEvent(event);
    const outbox = webhook
      ? [
          runMessageStatement(this.db, {
            runId,
            replayKey,
            type: webhook.type,
            ...runWebhookBodyParts(webhook.type, now, runId, webhook.data),
            now,
          }),
        ]
      : [];
    return {
      queued,
      type: event.type,
      event: { runId, attempt, replayKey, type: event.type, payload, createdAt: now },
      statements: [
        ...(canBatch(this.db)
          ? derivedStatements(this.db, runId, event, now)
          : derivedStatementsPrepared(this.db, runId, event, now)),
        ...outbox,
      ],
    };
  }
}
