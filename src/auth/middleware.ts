import type { Context, MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { keyByHash, keyById, touchKey } from "../../db/keys.ts";
import type { KeyRole } from "../../db/schema.ts";
import { ProblemError } from "../core/problem.ts";
import type { AppEnv, Principal } from "../services.ts";
import { hashKey } from "./keys.ts";
import type { Verdict } from "./limits.ts";

/**
 * Who may call what, by method and path; every other `/v1` route is a project's member route.
 * `worker` keys may call the pull-worker protocol only, and only they may call it.
 */
const ROLE_RULES: readonly { method?: string; path: RegExp; roles: readonly KeyRole[] }[] = [
  { path: /^\/v1\/keys(?:\/|$)/, roles: ["admin"] },
  { path: /^\/v1\/workers(?:\/|$)/, roles: ["worker"] },
  { method: "POST", path: /^\/v1\/runs\/[^/]+\/events$/, roles: ["worker"] },
  { path: /^\/v1\/runs\/[^/]+\/checkpoints(?:\/|$)/, roles: ["worker"] },
];
const MEMBER_ROLES: readonly KeyRole[] = ["admin", "member"];

const EVENTS_PATH = /^\/v1\/runs\/([^/]+)\/events$/;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Retry-After, then the problem (thrown, so onError writes it with the header kept). */
function rateLimited(c: Context, verdict: Verdict, detail: string): ProblemError {
  c.header("Retry-After", String(verdict.retryAfterSeconds));
  return new ProblemError("rate_limited", detail);
}

export function rolesFor(path: string, method = "GET"): readonly KeyRole[] {
  const rule = ROLE_RULES.find((r) => (r.method === undefined || r.method === method) && r.path.test(path));
  return rule?.roles ?? MEMBER_ROLES;
}

/** The key behind `Authorization: Bearer`, or a stream token on its run's events route. */
async function principalOf(c: Context<AppEnv>, now: number): Promise<Principal | null> {
  const { db, auth } = c.var.services;
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const presented = BEARER.exec(header)?.[1];
    if (!presented) return null;
    const hash = await hashKey(presented);
    const row = await keyByHash(db, hash);
    // The index finds the row; the comparison that decides runs in constant time.
    if (!row || row.revokedAt !== null || !(await timingSafeEqual(row.hash, hash))) return null;
    if (row.lastUsedAt === null || row.lastUsedAt < now - 60_000) await touchKey(db, row.id, now);
    return { keyId: row.id, projectId: row.projectId, role: row.role };
  }
  const token = c.req.query("token");
  const runId = EVENTS_PATH.exec(c.req.path)?.[1];
  if (token === undefined || runId === undefined || c.req.method !== "GET") return null;
  const claims = await auth.streamTokens.verify(token);
  if (!claims || claims.runId !== runId || claims.expiresAt <= now) return null;
  const row = await keyById(db, claims.keyId);
  if (!row || row.revokedAt !== null) return null;
  return { keyId: row.id, projectId: row.projectId, role: row.role };
}

/**
 * Every `/v1` request: refuse an address that failed too often, authenticate, count the key's
 * request, check its role, then act in the key's project (`c.var.projectId`).
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { clock, auth } = c.var.services;
    const now = clock();
    const address = auth.clientAddress(c);
    const blocked = auth.failedAuth.check(address, now);
    if (!blocked.allowed) throw rateLimited(c, blocked, "too many failed authentications from this address");
    const principal = await principalOf(c, now);
    if (!principal) {
      auth.failedAuth.hit(address, now);
      c.header("WWW-Authenticate", 'Bearer realm="autoprog"');
      throw new ProblemError(
        "unauthenticated",
        c.req.header("authorization") === undefined
          ? "send `Authorization: Bearer <key>`"
          : "the key is unknown or revoked",
      );
    }
    const verdict = auth.requests.hit(principal.keyId, now);
    if (!verdict.allowed) throw rateLimited(c, verdict, "this key's request rate is over its limit");
    const roles = rolesFor(c.req.path, c.req.method);
    if (!roles.includes(principal.role)) {
      const why =
        principal.role === "worker"
          ? "worker keys are reserved for pull workers"
          : roles.includes("worker")
            ? "this route is reserved for pull workers' keys"
            : `a ${principal.role} key may not call it`;
      throw new ProblemError("forbidden", `${c.req.method} ${c.req.path}: ${why}`);
    }
    c.set("principal", principal);
    c.set("projectId", principal.projectId);
    await next();
  };
}
