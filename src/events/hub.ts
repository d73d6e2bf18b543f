/**
 * In-process fan-out of stored events. A subscriber receives each event the sink stored for its
 * run (the same string instances for everyone) and decides what to do with it: an SSE stream
 * that keeps up writes it directly; one that falls behind drops what it holds and catches up
 * from the database at its own pace. Publishing never waits on a subscriber.
 */
export interface PublishedEvent {
  readonly seq: number;
  readonly type: string;
  /** The event as JSON text, as stored. */
  readonly payload: string;
  /** The run is finished after this event. */
  readonly terminal: boolean;
}

export type RunListener = (event: PublishedEvent) => void;

export class EventHub {
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
    for (const listener of this.listeners.get(runId) ?? []) listener(event);
  }

  subscribers(runId?: string): number {
    if (runId !== undefined) return this.listeners.get(runId)?.size ?? 0;
    let total = 0;
    for (const set of this.listeners.values()) total += set.size;
    return total;
  }
}
