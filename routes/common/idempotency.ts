import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { BatchStatement, Db } from "../../db/database.ts";
import { claimKey, completeKeyStatement, getKey, releaseKey } from "../../db/idempotency.ts";
import { sha256Hex } from "../../src/kit/crypto.ts";
import type { AppEnv } from "../../src/services.ts";
import { ProblemError } from "./problem.ts";

/** What a handler behind the middleware uses to store its answer in its own batch. */
export interface IdempotencyClaim {
  /** The statement that records the answer for the key; part of the handler's write batch. */
  complete(
    db: Db,
    answer: { status: number; body: unknown; location: string | null },
  ): BatchStatement<unknown>;
}

export type IdempotencyEnv = AppEnv & { Variables: { idempotency: IdempotencyClaim | undefined } };

const MAX_KEY_LENGTH = 255;

/** SHA-256 of the request line and body (Web Crypto: the same on Node and Workers). */
async function fingerprintOf(c: Context): Promise<string> {
  const text = `${c.req.method} ${new URL(c.req.url).search}\n${await c.req.text()}`;
  return sha256Hex(text);
}

/**
 * IETF `Idempotency-Key` for POSTs: the first request with a key owns it and its handler stores
 * the answer in the same batch as its writes (`c.get("idempotency").complete`); a retry with the
 * same key and body gets that answer again (`Idempotent-Replayed: true`), a different body is
 * 422, and a retry while the first is still running is 409. A key whose handler stored nothing
 * (an error, a dry run) is freed. Keys are scoped: `scope` (a tenant id, later) prefixes them.
 */
export function idempotency(
  options: { scope?: (c: Context<IdempotencyEnv>) => string } = {},
): MiddlewareHandler<IdempotencyEnv> {
  return async (c, next) => {
    const header = c.req.header("idempotency-key");
    // No key, or one the route's validator will refuse: nothing to do here.
    if (
      c.req.method !== "POST" ||
      header === undefined ||
      header.length === 0 ||
      header.length > MAX_KEY_LENGTH
    ) {
      c.set("idempotency", undefined);
      return next();
    }
    const scope = options.scope?.(c) ?? "";
    const key = scope === "" ? header : `${scope}:${header}`;
    const { db, clock, idempotencyTtlMs } = c.get("services");
    const fingerprint = await fingerprintOf(c);
    if (!(await claimKey(db, { key, fingerprint, now: clock(), ttlMs: idempotencyTtlMs }))) {
      const stored = await getKey(db, key);
      if (!stored || stored.state === "in_flight") {
        throw new ProblemError("idempotency_key_in_use", "retry once the first request has finished");
      }
      if (stored.fingerprint !== fingerprint) {
        throw new ProblemError("idempotency_key_mismatch", "use a new key for a different request");
      }
      c.header("Idempotent-Replayed", "true");
      if (stored.location) c.header("Location", stored.location);
      return c.json(stored.body, (stored.status ?? 200) as ContentfulStatusCode);
    }
    let completed = false;
    c.set("idempotency", {
      complete(database, answer) {
        completed = true;
        return completeKeyStatement(database, { key, ...answer });
      },
    });
    try {
      await next();
    } finally {
      // The handler threw or stored no answer (its batch did not run, or it wrote nothing).
      if (!completed || c.error !== undefined || c.res.status >= 400) await releaseKey(db, key);
    }
  };
}
