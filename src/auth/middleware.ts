import type { Context, MiddlewareHandler } from "hono";
import { keyByHash, keyById, touchKey } from "../../db/keys.ts";
import { ProblemError } from "../core/problem.ts";
import { constantTimeEqual } from "../kit/crypto.ts";
import type { AppEnv, Principal } from "../services.ts";
import type { Verdict } from "./limits.ts";

const EVENTS_PATH = /^\/v1\/runs\/([^/]+)\/events$/;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Retry-After, then the problem (thrown, so onError writes it with the header kept). */
function rateLimited(c: Context, verdict: Verdict, detail: string): ProblemError {
  c.header("Retry-After", String(verdict.retryAfterSeconds));
  return new ProblemError("rate_limited", detail);
}

/**
 * The key behind `Authorization: Bearer`, or a stream token on its run's events route. One
 * SHA-256 per request; a key verified in the last few seconds is not read again
 * (src/auth/verified-keys.ts: revocation is immediate here, within the cache time elsewhere).
 */
async function principalOf(c: Context<AppEnv>, now: number): Promise<Principal | null> {
  const { db, auth } = c.get("services");
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const presented = BEARER.exec(header)?.[1];
    if (!presented) return null;
    const hash = await auth.hashKey(presented);
    const cached = auth.verifiedKeys.byKeyHash(hash, now);
    if (cached) return cached;
    const row = await keyByHash(db, hash);
    // The index finds the row; the comparison that decides runs in constant time.
    if (!row || row.revokedAt !== null || !constantTimeEqual(row.hash, hash)) return null;
    // Remembered keys are read again every cache period, so this still runs about once a minute.
    if (row.lastUsedAt === null || row.lastUsedAt < now - 60_000) await touchKey(db, row.id, now);
    const principal: Principal = { keyId: row.id, projectId: row.projectId, role: row.role };
    auth.verifiedKeys.remember(hash, principal, now);
    return principal;
  }
  const token = c.req.query("token");
  const runId = EVENTS_PATH.exec(c.req.path)?.[1];
  if (token === undefined || runId === undefined || c.req.method !== "GET") return null;
  const claims = await auth.streamTokens.verify(token);
  if (!claims || claims.runId !== runId || claims.expiresAt <= now) return null;
  const cached = auth.verifiedKeys.byKeyId(claims.keyId, now);
  if (cached) return cached;
  const row = await keyById(db, claims.keyId);
  if (!row || row.revokedAt !== null) return null;
  return { keyId: row.id, projectId: row.projectId, role: row.role };
}

/** A failed authentication counts against a claimed key by its first characters (`ap_` and 9 more). */
const CLAIMED_KEY_PREFIX = 12;

/** Heartbeats and event batches keep a pull worker's lease: they spend the worker budget. */
function keepsLease(method: string, path: string): boolean {
  return method === "POST" && (path === "/v1/workers/heartbeat" || EVENTS_PATH.test(path));
}

/**
 * A request that failed to authenticate: counted against its address and the key it claimed,
 * and refused with 429 once either has failed too often this window (401 until then).
 */
function authenticationFailed(c: Context<AppEnv>, now: number): ProblemError {
  const { auth } = c.get("services");
  const claimed = BEARER.exec(c.req.header("authorization") ?? "")?.[1] ?? c.req.query("token");
  const scopes = [
    { scope: `address:${auth.clientAddress(c)}`, detail: "from this address" },
    ...(claimed ? [{ scope: `key:${claimed.slice(0, CLAIMED_KEY_PREFIX)}`, detail: "for this key" }] : []),
  ];
  for (const { scope, detail } of scopes) {
    const verdict = auth.failedAuth.check(scope, now);
    if (!verdict.allowed) return rateLimited(c, verdict, `too many failed authentications ${detail}`);
  }
  for (const { scope } of scopes) auth.failedAuth.hit(scope, now);
  c.header("WWW-Authenticate", 'Bearer realm="autoprog"');
  return new ProblemError(
    "unauthenticated",
    c.req.header("authorization") === undefined
      ? "send `Authorization: Bearer <key>`"
      : "the key is unknown or revoked",
  );
}

/**
 * Every `/v1` request: authenticate first, so a valid key is never refused for other clients'
 * failures at its address (only failing requests are counted and limited); count the key's
 * request on its budget (a worker's heartbeats and event batches on their own), then act in the
 * key's project (`c.get("projectId")`). Which roles may call a route is the route's own check
 * (`access` in routes/common/route.ts), run after this.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { clock, auth } = c.get("services");
    const now = clock();
    const principal = await principalOf(c, now);
    if (!principal) throw authenticationFailed(c, now);
    const workerBudget = principal.role === "worker" && keepsLease(c.req.method, c.req.path);
    const verdict = (workerBudget ? auth.workerRequests : auth.requests).hit(principal.keyId, now);
    if (!verdict.allowed) {
      throw rateLimited(
        c,
        verdict,
        workerBudget
          ? "this worker key's heartbeats and event batches are over their limit"
          : "this key's request rate is over its limit",
      );
    }
    c.set("principal", principal);
    c.set("projectId", principal.projectId);
    await next();
  };
}
