import { createParser, type EventSourceMessage } from "eventsource-parser";
import { TERMINAL_EVENT_TYPES, type TrainingEvent, TrainingEventSchema } from "../core/events.ts";
import { backoffDelay } from "../kit/backoff.ts";
import { sleep } from "../kit/sleep.ts";
import { ApiError, type AutoprogClient, asProblem, isTransient } from "./client.ts";

/** One event of a run's stream: its gap-free seq and the event, checked by the TrainingEvent union. */
export interface FollowedEvent {
  readonly seq: number;
  readonly event: TrainingEvent;
}

export interface FollowBackoff {
  /** First wait after a dropped connection (default 500 ms); doubles per consecutive failure. */
  readonly initialMs?: number;
  /** Longest wait (default 30 s). */
  readonly maxMs?: number;
  /** Consecutive failed connections before giving up with the last error (default 10). */
  readonly maxAttempts?: number;
}

export interface FollowRunOptions {
  /** Resume after this seq (the last one already seen); 0 replays the whole run. */
  readonly after?: number;
  readonly signal?: AbortSignal;
  readonly backoff?: FollowBackoff;
  /**
   * A connection silent this long is treated as dropped. The server sends a comment every 15 s,
   * so the default (60 s) only fires on a half-open connection that no error reports.
   */
  readonly idleTimeoutMs?: number;
  /** Told before each reconnect: why, how long it waits and where it resumes. */
  readonly onReconnect?: (info: { attempt: number; delayMs: number; after: number; error: unknown }) => void;
}

/** The server sent something this client does not understand (another version): not retried. */
export class EventStreamError extends Error {
  override readonly name = "EventStreamError";
}

/**
 * Follows `GET /v1/runs/{id}/events` until the run's terminal event (`run.completed` or
 * `run.failed`), or the server's `end` when the run finished without one. A dropped connection
 * is reopened with `Last-Event-ID` = the last seq seen, after an exponential backoff with jitter;
 * events at or below that seq are skipped, so each is yielded exactly once and in order.
 * Problems the server states (4xx) are thrown as ApiError at once; 5xx, 429 and connection
 * failures are retried. Aborting `signal` ends the iteration quietly.
 */
export async function* followRunEvents(
  client: AutoprogClient,
  runId: string,
  options: FollowRunOptions = {},
): AsyncGenerator<FollowedEvent, void> {
  const { signal } = options;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  let after = options.after ?? 0;
  let failures = 0;
  while (!signal?.aborted) {
    const connection = new AbortController();
    const abortConnection = () => connection.abort();
    signal?.addEventListener("abort", abortConnection);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => connection.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
    };
    try {
      touch();
      const result = await client.GET("/v1/runs/{id}/events", {
        params: { path: { id: runId }, header: after > 0 ? { "Last-Event-ID": after } : {} },
        headers: { accept: "text/event-stream" },
        parseAs: "stream",
        signal: connection.signal,
      });
      const body = result.response.ok ? result.data : null;
      if (!body) throw new ApiError(result.response.status, asProblem(result.error));

      const messages: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (message) => messages.push(message) });
      const reader = body.getReader();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          touch();
          parser.feed(decoder.decode(chunk.value, { stream: true }));
          for (const message of messages.splice(0)) {
            if (message.event === "end") return;
            const followed = parseMessage(message);
            if (followed.seq <= after) continue; // replayed twice around a reconnect
            after = followed.seq;
            failures = 0;
            yield followed;
            if (TERMINAL_EVENT_TYPES.has(followed.event.type)) return;
          }
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      // Closed without `end`: the server went away mid-run; reopen (the catch below).
      throw new Error("the event stream closed before the run ended");
    } catch (error) {
      if (signal?.aborted) return;
      if (!isRetryable(error)) throw error;
      failures += 1;
      await waitBeforeReconnect(error);
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener("abort", abortConnection);
      connection.abort();
    }
  }

  async function waitBeforeReconnect(error: unknown): Promise<void> {
    const { initialMs = 500, maxMs = 30_000, maxAttempts = 10 } = options.backoff ?? {};
    if (failures > maxAttempts) throw error;
    // Equal jitter: at least half the exponential wait, so many watchers do not reconnect at once.
    const delayMs = Math.round(backoffDelay({ firstMs: initialMs, maxMs, jitter: "equal" }, failures));
    options.onReconnect?.({ attempt: failures, delayMs, after, error });
    await sleep(delayMs, signal);
  }
}

function parseMessage(message: EventSourceMessage): FollowedEvent {
  const seq = Number(message.id);
  if (!Number.isInteger(seq) || seq < 1) {
    throw new EventStreamError(`event "${message.event}" has no seq id (id: ${JSON.stringify(message.id)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    throw new EventStreamError(`event ${seq} (${message.event}) is not JSON`);
  }
  const parsed = TrainingEventSchema.safeParse(data);
  if (!parsed.success) {
    throw new EventStreamError(
      `event ${seq} (${message.event}) is not a TrainingEvent: ${parsed.error.message}`,
    );
  }
  if (parsed.data.type !== message.event) {
    throw new EventStreamError(`event ${seq} is named "${message.event}" but holds "${parsed.data.type}"`);
  }
  return { seq, event: parsed.data };
}

function isRetryable(error: unknown): boolean {
  if (isTransient(error)) return true;
  // Besides what any call retries: the stream closing early or the idle timer's abort.
  return error instanceof Error && !(error instanceof ApiError) && !(error instanceof EventStreamError);
}
