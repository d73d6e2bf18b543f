import { sleep } from "./sleep.ts";

/**
 * Exponential backoff with jitter, and a retry loop on it. A small function rather than a
 * retry library: of the callers (the worker's API calls, its lease loop, the SDK's and the
 * dashboard's event-stream reconnects) only one is a call to repeat until it succeeds; the
 * others need the wait itself inside loops of their own.
 */
export interface Backoff {
  /** The wait after the first failure, before jitter; it doubles with each failure after. */
  readonly firstMs: number;
  /** The longest wait, before jitter. */
  readonly maxMs: number;
  /**
   * How the wait is spread so that clients that failed together do not return together:
   * `none` waits the exponential wait itself, `full` a uniform share of it ([0, wait)), `equal`
   * at least half of it ([wait/2, wait)).
   */
  readonly jitter: "none" | "full" | "equal";
}

/** The wait after `failures` consecutive failures (1 = the first), in milliseconds. */
export function backoffDelay(backoff: Backoff, failures: number, random: () => number = Math.random): number {
  const wait = Math.min(backoff.maxMs, backoff.firstMs * 2 ** (failures - 1));
  switch (backoff.jitter) {
    case "none":
      return wait;
    case "full":
      return random() * wait;
    case "equal":
      return wait / 2 + (random() * wait) / 2;
  }
}

/** How hard a call is retried: `tries` in all, with the backoff's waits between them. */
export interface RetryPolicy extends Backoff {
  readonly tries: number;
}

/**
 * Calls `attempt` until it succeeds, fails with an error `retryable` refuses, or the tries are
 * used up; the last error is thrown as it was.
 */
export async function retry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  retryable: (error: unknown) => boolean,
  random: () => number = Math.random,
): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      if (tried >= policy.tries || !retryable(error)) throw error;
      await sleep(backoffDelay(policy, tried, random));
    }
  }
}

/** An HTTP answer worth another try: the server was broken or busy, or asked to slow down. A 4xx never is. */
export const isTransientStatus = (status: number): boolean => status >= 500 || status === 429;
