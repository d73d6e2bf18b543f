import type { Context } from "hono";
import type { AuthServices } from "../services.ts";
import { hashKey } from "./keys.ts";
import { InMemoryRateLimiter, InMemoryStreamSlots } from "./limits.ts";
import { hmacStreamTokens } from "./stream-token.ts";
import { InMemoryVerifiedKeys } from "./verified-keys.ts";

/** The defaults of the AUTOPROG_* rate settings (src/settings/table.ts, docs/configuration.md). */
export const AUTH_DEFAULTS = {
  requestsPerMinute: 600,
  workerRequestsPerMinute: 6000,
  failedAuthPerMinute: 20,
  streamsPerKey: 20,
  /** How long a verified key is remembered (src/auth/verified-keys.ts). */
  keyCacheSeconds: 10,
} as const;

export interface AuthOptions {
  readonly requestsPerMinute?: number;
  readonly workerRequestsPerMinute?: number;
  readonly failedAuthPerMinute?: number;
  readonly streamsPerKey?: number;
  /** Seconds a verified key is remembered; 0: every request reads the key's row. */
  readonly keyCacheSeconds?: number;
  /**
   * SHA-256 hex of a presented key, the same digest as src/auth/keys.ts `hashKey` (Web Crypto,
   * asynchronous); Node passes node:crypto's synchronous one, which costs a request less.
   */
  readonly hashKey?: (key: string) => string | Promise<string>;
  /** HMAC secret of stream tokens; random per process when absent. */
  readonly streamTokenSecret?: string;
  readonly clientAddress: (c: Context) => string;
}

/** One process's limits and token secret: create once per app, never per request. */
export function inMemoryAuth(options: AuthOptions): AuthServices {
  return {
    failedAuth: new InMemoryRateLimiter(options.failedAuthPerMinute ?? AUTH_DEFAULTS.failedAuthPerMinute),
    requests: new InMemoryRateLimiter(options.requestsPerMinute ?? AUTH_DEFAULTS.requestsPerMinute),
    workerRequests: new InMemoryRateLimiter(
      options.workerRequestsPerMinute ?? AUTH_DEFAULTS.workerRequestsPerMinute,
    ),
    streams: new InMemoryStreamSlots(options.streamsPerKey ?? AUTH_DEFAULTS.streamsPerKey),
    streamTokens: hmacStreamTokens(options.streamTokenSecret),
    hashKey: options.hashKey ?? hashKey,
    verifiedKeys: new InMemoryVerifiedKeys((options.keyCacheSeconds ?? AUTH_DEFAULTS.keyCacheSeconds) * 1000),
    clientAddress: options.clientAddress,
  };
}
