/**
 * When a failed message is tried again (Standard Webhooks' recommended schedule): the first
 * attempt at once, then after 5 s, 5 min, 30 min, 2 h, 5 h and 10 h; after the last one the
 * message fails and its endpoint is disabled.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/** Jitter spreads retries of many messages that failed together (±10 %). */
const JITTER = 0.1;

/** A `Retry-After` longer than this is not waited for (the schedule's longest step). */
const MAX_RETRY_AFTER_MS = 36_000_000;

/**
 * The delay before the next attempt after `failures` failed ones, or null when none is left.
 * `retryAfterMs` (the receiver's `Retry-After`) is honoured: never retry sooner than it asks.
 * `timeScale` shrinks every wait (tests run the whole schedule in milliseconds).
 */
export function retryDelay(
  failures: number,
  options: { retryAfterMs?: number | null; timeScale?: number; random?: () => number } = {},
): number | null {
  const base = RETRY_DELAYS_MS[failures - 1];
  if (base === undefined) return null;
  const jitter = 1 + JITTER * (2 * (options.random ?? Math.random)() - 1);
  const asked = Math.min(options.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
  return Math.round(Math.max(base * jitter, asked) * (options.timeScale ?? 1));
}

/** `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
