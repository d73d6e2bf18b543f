import { eventFrame } from "./sse-output.ts";

/**
 * Fan-out of stored events to live followers. The interface is what the app sees; on Node it
 * is the in-memory hub below, on Workers a hub that polls the log (one process cannot wake
 * another there). Publishing never waits on a subscriber.
 */
export interface PublishedEvent {
  readonly seq: number;
  readonly type: string;
  /** The event as JSON text, as stored. */
  readonly payload: string;
  /** The run is finished after this event. */
  readonly terminal: boolean;
}

/** An event as listeners receive it: with its SSE message, encoded once for all of them. */
export interface LiveEvent extends PublishedEvent {
  readonly frame: Uint8Array;
}

export type RunListener = (event: LiveEvent) => void;

export interface EventHub {
  /** Calls `listener` with each event stored for the run from now on; returns the unsubscribe. */
  subscribe(runId: string, listener: RunListener): () => void;
  publish(runId: string, event: PublishedEvent): void;
}

/**
 * One process's hub: an event is serialised into its SSE message once, however many listen, and
 * every subscriber receives the same bytes (an SSE stream writes them to its socket as they are).
 */
export class InMemoryEventHub implements EventHub {
  private readonly listeners = new Map<string, Set<RunListener>>();

  subscribe(runId: string, listener: RunListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) {
      set = new Set();
      this.listeners.set(runId, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(runId);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(runId);
    };
  }

  publish(runId: string, event: PublishedEvent): void {
    const listeners = this.listeners.get(runId);
    if (!listeners) return;
    const live: LiveEvent = { ...event, frame: eventFrame(event.seq, event.type, event.payload) };
    for (const listener of listeners) listener(live);
  }

  subscribers(runId?: string): number {
    if (runId !== undefined) return this.listeners.get(runId)?.size ?? 0;
    let total = 0;
    for (const set of this.listeners.values()) total += set.size;
    return total;
  }
}
