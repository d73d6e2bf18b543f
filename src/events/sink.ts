import type { Db } from "../../db/database.ts";
import { derivedStatements } from "../../db/derived.ts";
import { recordEvent } from "../../db/events.ts";
import { runMessageStatement } from "../../db/webhooks.ts";
import { TERMINAL_EVENT_TYPES, type TrainingEvent, TrainingEventSchema } from "../core/events.ts";
import { runWebhookBodyParts, webhookOfEvent } from "../core/webhook-events.ts";
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

/**
 * The sink over the database: each event is written with its derived rows and its webhook
 * outbox rows in one batch (a crash loses none of them). Writes
 * for one run are chained so they keep the order the trainer emitted them in, whatever the
 * database's latency.
 */
export class StoredEventSink implements EventSink {
  private readonly tails = new Map<string, { attempt: number; tail: Promise<number | null> }>();
  /** The attempt of each run whose write failed: its later events are refused. */
  private readonly failed = new Map<string, number>();

  constructor(
    private readonly db: Db,
    readonly hub: EventHub,
    private readonly clock: () => number = Date.now,
  ) {}

  record(
    runId: string,
    attempt: number,
    event: TrainingEvent,
    replayKey: string | null,
  ): Promise<number | null> {
    // A new attempt is not held to an earlier attempt's failure.
    if (this.failed.has(runId) && this.failed.get(runId) !== attempt) this.failed.delete(runId);
    const previous = this.tails.get(runId);
    // Within an attempt a failure poisons what follows; a new attempt starts a fresh chain.
    const after: Promise<unknown> =
      previous === undefined
        ? Promise.resolve()
        : previous.attempt === attempt
          ? previous.tail
          : previous.tail.catch(() => undefined);
    const tail = after.then(async () => {
      if (this.failed.get(runId) === attempt)
        throw new Error(`an earlier event of attempt ${attempt} was not stored`);
      try {
        return await this.write(runId, attempt, event, replayKey);
      } catch (error) {
        this.failed.set(runId, attempt);
        throw error;
      }
    });
    const entry = { attempt, tail };
    this.tails.set(runId, entry);
    const forget = () => {
      if (this.tails.get(runId) === entry) this.tails.delete(runId);
    };
    void tail.then(forget, forget);
    return tail;
  }

  async drained(runId: string): Promise<void> {
    await this.tails.get(runId)?.tail.catch(() => undefined);
  }

  private async write(
    runId: string,
    attempt: number,
    input: TrainingEvent,
    replayKey: string | null,
  ): Promise<number | null> {
    const event = TrainingEventSchema.parse(input);
    const now = this.clock();
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
    const seq = await recordEvent(
      this.db,
      { runId, attempt, replayKey, type: event.type, payload, createdAt: now },
      [...derivedStatements(this.db, runId, event, now), ...outbox],
    );
    if (seq !== null) {
      this.hub.publish(runId, {
        seq,
        type: event.type,
        payload,
        terminal: TERMINAL_EVENT_TYPES.has(event.type),
      });
    }
    return seq;
  }
}
