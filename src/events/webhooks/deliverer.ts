import type { Db } from "../../../db/database.ts";
import { newId } from "../../../db/ids.ts";
import {
  type AttemptNext,
  claimDueMessages,
  endpointById,
  type OutboxRow,
  recordAttempt,
  type WebhookEndpointRow,
} from "../../../db/webhooks.ts";
import { WakeLoop } from "../../kit/wake-loop.ts";
import { refusalOf, type UrlPolicy } from "./address-guard.ts";
import { MAX_ATTEMPTS, parseRetryAfter, retryDelay } from "./schedule.ts";
import { webhookHeaders } from "./signature.ts";

export interface DelivererOptions {
  readonly db: Db;
  readonly policy: UrlPolicy;
  readonly fetch?: typeof fetch;
  readonly clock?: () => number;
  /** Multiplies every wait of the retry schedule (tests: 0.001). */
  readonly timeScale?: number;
  /** An attempt that has not answered by then failed. */
  readonly timeoutMs?: number;
  /** How often the outbox is polled for due messages when nothing wakes the deliverer. */
  readonly pollMs?: number;
  readonly batchSize?: number;
  readonly random?: () => number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** The outcome of one HTTP attempt, before it is turned into the row's next state. */
interface Outcome {
  readonly status: number | null;
  readonly error: string | null;
  readonly retryAfterMs: number | null;
}

/**
 * Delivers the webhook outbox: claims due rows from the database (so a restarted server picks up
 * where the last one stopped), signs and POSTs each, and records the attempt with the row's next
 * state in one batch. Only fetch and Web Crypto: Workers can run `deliverDue` from a cron.
 */
export class WebhookDeliverer {
  private readonly fetch: typeof fetch;
  private readonly clock: () => number;
  private readonly timeoutMs: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** One delivery pass at a time; after the last, the next poll is set. */
  private readonly passes = new WakeLoop(
    () => {
      this.clearTimer();
      return this.deliverDue();
    },
    {
      onError: (error) => this.options.log?.("webhook delivery pass failed", { error: String(error) }),
      onIdle: () => {
        this.timer = setTimeout(() => this.wake(), this.options.pollMs ?? 1_000);
      },
      stopped: true,
    },
  );

  constructor(private readonly options: DelivererOptions) {
    // Bound: a bare `fetch` reference called as a method loses its receiver on some runtimes.
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.clock = options.clock ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Polls every `pollMs` until `stop()`. */
  start(): void {
    this.passes.start();
  }

  /** Runs a pass now (a new message is due), or right after the one running. */
  wake(): void {
    this.passes.wake();
  }

  /** Stops polling and waits for the attempts in flight to be recorded. */
  async stop(): Promise<void> {
    const ended = this.passes.stop();
    this.clearTimer();
    await ended;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One pass: claims every due row (a batch at a time) and attempts each; resolves with the count. */
  async deliverDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await claimDueMessages(this.options.db, {
        now: this.clock(),
        // Past the attempt's timeout: a deliverer that dies mid-attempt leaves the row due again.
        leaseMs: this.timeoutMs + 30_000,
        limit: this.options.batchSize ?? 16,
      });
      if (rows.length === 0) return total;
      // One attempt's failure to record (its endpoint deleted meanwhile) must not hold up the others;
      // its row is due again once the claim lapses.
      for (const result of await Promise.allSettled(rows.map((row) => this.attempt(row)))) {
        if (result.status === "rejected") {
          this.options.log?.("webhook attempt not recorded", { error: String(result.reason) });
        }
      }
      total += rows.length;
    }
  }

  private async attempt(row: OutboxRow): Promise<void> {
    const { db } = this.options;
    const endpoint = await endpointById(db, row.endpointId);
    if (!endpoint) return;
    const started = performance.now();
    const outcome = await this.send(endpoint, row);
    const now = this.clock();
    await recordAttempt(db, {
      id: newId("dlv", now),
      row,
      status: outcome.status,
      error: outcome.error,
      durationMs: Math.round(performance.now() - started),
      now,
      next: this.nextState(row, outcome, now),
    });
    if (outcome.error !== null) {
      this.options.log?.("webhook attempt failed", {
        webhook: row.endpointId,
        message: row.messageId,
        attempt: row.attempts,
        error: outcome.error,
      });
    }
  }

  private async send(endpoint: WebhookEndpointRow, row: OutboxRow): Promise<Outcome> {
    const refusal = await refusalOf(endpoint.url, this.options.policy);
    if (refusal !== null) return { status: null, error: `refused: ${refusal}`, retryAfterMs: null };
    const now = this.clock();
    const secrets = [
      endpoint.secret,
      ...(endpoint.previousSecret !== null && (endpoint.previousSecretExpiresAt ?? 0) > now
        ? [endpoint.previousSecret]
        : []),
    ];
    const headers = await webhookHeaders(secrets, row.messageId, Math.floor(now / 1000), row.body);
    let response: Response;
    try {
      response = await this.fetch(endpoint.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "autoprog-webhooks/1", ...headers },
        body: row.body,
        // A redirect could lead anywhere, past the address check: it is a failed attempt.
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      return {
        status: null,
        error: timedOut ? `no answer within ${this.timeoutMs} ms` : errorText(error),
        retryAfterMs: null,
      };
    }
    // The body is not read: only the status counts.
    await response.body?.cancel().catch(() => undefined);
    const { status } = response;
    if (status >= 200 && status < 300) return { status, error: null, retryAfterMs: null };
    const error =
      status >= 300 && status < 400
        ? `redirects are not followed (${status} to ${response.headers.get("location") ?? "nowhere"})`
        : `the receiver answered ${status}`;
    return { status, error, retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), now) };
  }

  private nextState(row: OutboxRow, outcome: Outcome, now: number): AttemptNext {
    if (outcome.error === null) return { state: "delivered" };
    if (outcome.status === 410) {
      return { state: "failed", disable: `the receiver answered 410 Gone to message ${row.messageId}` };
    }
    const delay = retryDelay(row.failures + 1, {
      retryAfterMs: outcome.retryAfterMs,
      timeScale: this.options.timeScale ?? 1,
      ...(this.options.random ? { random: this.options.random } : {}),
    });
    if (delay !== null) return { state: "pending", at: now + delay };
    return {
      state: "failed",
      disable: `all ${MAX_ATTEMPTS} attempts of message ${row.messageId} failed; the last: ${outcome.error}`,
    };
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    // undici puts the reason (ECONNREFUSED, …) in `cause`.
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
