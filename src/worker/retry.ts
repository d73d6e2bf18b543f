import { ApiError, ConnectionError } from "../client/index.ts";

/** How hard a call is retried: `tries` in all, waits doubling from `firstWaitMs` up to `maxWaitMs`. */
export interface RetryPolicy {
  readonly tries: number;
  readonly firstWaitMs: number;
  readonly maxWaitMs: number;
}

/** About a minute of trying: an API restart or a short network outage is ridden out. */
export const DEFAULT_RETRY: RetryPolicy = { tries: 8, firstWaitMs: 250, maxWaitMs: 15_000 };

/** Worth another try: the network failed, or the server was busy or broken; a 4xx never is. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  if (error instanceof ApiError) return error.status >= 500 || error.status === 429;
  // openapi-fetch rethrows what fetch threw (a reset mid-body, a timeout).
  return error instanceof TypeError;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls `attempt` until it succeeds, a non-transient error occurs or the tries are used up. */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  let wait = policy.firstWaitMs;
  for (let tried = 1; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      if (tried >= policy.tries || !isTransient(error)) throw error;
      // Full jitter: workers that lost the API at the same moment do not come back in step.
      await sleep(Math.random() * wait);
      wait = Math.min(wait * 2, policy.maxWaitMs);
    }
  }
}
