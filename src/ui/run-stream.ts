import { ApiError, type AutoprogClient, unwrap } from "../client/client.ts";
import type { TrainingEvent, TrainingEventType } from "../core/events.ts";
import { type Backoff, backoffDelay } from "../kit/backoff.ts";

/** Every event name the stream sends (EventSource needs one listener per name). */
const EVENT_TYPES = [
  "run.started",
  "stage.started",
  "stage.grown",
  "stage.search.started",
  "stage.search.completed",
  "epoch.completed",
  "checkpoint.saved",
  "run.completed",
  "run.failed",
  "attempt.failed",
  "run.paused",
  "run.resumed",
] as const satisfies readonly TrainingEventType[];
// Fails to compile when the union gains a type this list lacks.
const everyType: Exclude<TrainingEventType, (typeof EVENT_TYPES)[number]> extends never ? true : never = true;
void everyType;

/** Between reopened streams: 0.5 s doubling to 30 s, at least half of it, so tabs do not return in step. */
const REOPEN_BACKOFF: Backoff = { firstMs: 500, maxMs: 30_000, jitter: "equal" };

export type StreamStatus = "connecting" | "live" | "reconnecting" | "ended";

export interface RunStreamHandlers {
  readonly onEvent: (seq: number, event: TrainingEvent) => void;
  readonly onStatus: (status: StreamStatus, detail?: string) => void;
}

/**
 * Follows a run's events with the browser's EventSource, which cannot send `Authorization`: a
 * run-scoped stream token (`POST /v1/runs/{id}/stream-token`) goes in the URL instead. While the
 * connection drops and comes back, EventSource itself resumes with `Last-Event-ID`; when it gives
 * up (the token expired, a 429, the server restarted) a fresh token is minted and the stream
 * reopened with `since` = the last seq seen. Returns the function that stops following.
 */
export function followRunStream(
  client: AutoprogClient,
  runId: string,
  after: number,
  handlers: RunStreamHandlers,
): () => void {
  let lastSeq = after;
  let source: EventSource | null = null;
  let stopped = false;
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const open = async () => {
    handlers.onStatus(failures === 0 ? "connecting" : "reconnecting");
    let url: string;
    try {
      const token = unwrap(
        await client.POST("/v1/runs/{id}/stream-token", { params: { path: { id: runId } } }),
      );
      url = `${token.url}&since=${lastSeq}`;
    } catch (error) {
      // A run that does not exist (or is another project's) will not appear by retrying.
      if (error instanceof ApiError && error.status === 404) {
        stopped = true;
        handlers.onStatus("ended", "no such run");
        return;
      }
      reopenLater(error instanceof Error ? error.message : String(error));
      return;
    }
    if (stopped) return;
    const es = new EventSource(url);
    source = es;
    es.onopen = () => {
      failures = 0;
      handlers.onStatus("live");
    };
    es.onerror = () => {
      // CONNECTING: EventSource retries by itself with Last-Event-ID. CLOSED: it gave up.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        reopenLater("the stream closed");
      } else handlers.onStatus("reconnecting");
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (message: MessageEvent<string>) => {
        const seq = Number(message.lastEventId);
        if (!Number.isInteger(seq) || seq <= lastSeq) return;
        lastSeq = seq;
        // The server parsed it against the TrainingEvent union before storing it.
        handlers.onEvent(seq, JSON.parse(message.data) as TrainingEvent);
      });
    }
    es.addEventListener("end", () => {
      es.close();
      handlers.onStatus("ended");
    });
  };

  const reopenLater = (detail: string) => {
    if (stopped) return;
    failures += 1;
    const delay = backoffDelay(REOPEN_BACKOFF, failures);
    handlers.onStatus("reconnecting", detail);
    retry = setTimeout(() => void open(), delay);
  };

  void open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    source?.close();
  };
}
