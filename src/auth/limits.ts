/**
 * Rate limits and stream caps behind small interfaces: the Node entry keeps them in process
 * memory (one process, one count); another runtime (Workers: one count per isolate) can plug a
 * shared store (a Durable Object, a KV counter) without touching the middleware.
 */
import type { RateLimiter, StreamSlots, Verdict } from "../services.ts";

export type { RateLimiter, StreamSlots, Verdict };

const ALLOWED: Verdict = { allowed: true, retryAfterSeconds: 0 };

/**
 * Fixed windows of `windowMs`, counted per key in a Map (swept of ended windows as it grows). An
 * allowed hit allocates nothing: the verdict is a shared constant and the window is updated in place.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly sweepAbove = 10_000,
  ) {}

  check(key: string, now: number): Verdict {
    const window = this.windows.get(key);
    if (!window || window.endsAt <= now || window.count < this.limit) return ALLOWED;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)) };
  }

  hit(key: string, now: number): Verdict {
    const verdict = this.check(key, now);
    if (!verdict.allowed) return verdict;
    const window = this.windows.get(key);
    if (window && window.endsAt > now) window.count += 1;
    else if (window) {
      // A key's window is reused, so a steady client allocates nothing per request.
      window.count = 1;
      window.endsAt = now + this.windowMs;
    } else {
      if (this.windows.size >= this.sweepAbove) this.sweep(now);
      this.windows.set(key, { count: 1, endsAt: now + this.windowMs });
    }
    return ALLOWED;
  }

  private sweep(now: number) {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

export class InMemoryStreamSlots implements StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  acquire(key: string): (() => void) | null {
    const taken = this.open.get(key) ?? 0;
    if (taken >= this.limit) return null;
    this.open.set(key, taken + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}
