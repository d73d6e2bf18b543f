import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ProblemError } from "./problem.ts";

/** The largest request body accepted by default: a spec is a few KB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Hono's body-limit (it counts a chunked body as it streams, too), answering 413 as a problem.
 * A GET or HEAD has no body (fetch's Request refuses one), so it is not looked at: asking for
 * `request.body` makes @hono/node-server build the whole web Request, its Headers and an
 * AbortSignal, which was a sixth of a GET's CPU time.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ProblemError("payload_too_large", `the request body is over ${maxBytes} bytes`);
    },
  });
  return (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limit(c, next));
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);

/** A request that carries a body on a JSON route must say it is JSON: 415 otherwise. */
export function requireJsonBody(): MiddlewareHandler {
  return async (c, next) => {
    // A client sends a body with a length or chunked; a bodiless POST (a cancel) needs no type.
    const length = c.req.header("content-length");
    const hasBody = length !== undefined ? length !== "0" : c.req.header("transfer-encoding") !== undefined;
    if (WITH_BODY.has(c.req.method) && hasBody && !JSON_TYPE.test(c.req.header("content-type") ?? "")) {
      throw new ProblemError("unsupported_media_type", "send the body as Content-Type: application/json");
    }
    await next();
  };
}

/**
 * DNS rebinding: a page on another origin can make a browser send requests to a server on
 * loopback under the attacker's host name. A server that lists its host names answers only
 * requests addressed to one of them.
 */
export function allowHosts(hosts: readonly string[]): MiddlewareHandler {
  const allowed = new Set(hosts.map((h) => h.toLowerCase()));
  // Parsing the URL is most of this check's cost, and the host name depends only on the URL's
  // start (scheme and authority, up to the path's first "/"): each start seen is parsed once.
  // Bounded, so a flood of made-up Host headers only empties it.
  const hostnames = new Map<string, string>();
  const hostnameOf = (url: string) => {
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const start = pathStart === -1 ? url : url.slice(0, pathStart);
    let hostname = hostnames.get(start);
    if (hostname === undefined) {
      hostname = new URL(url).hostname.toLowerCase();
      if (hostnames.size >= 256) hostnames.clear();
      hostnames.set(start, hostname);
    }
    return hostname;
  };
  return async (c, next) => {
    const host = hostnameOf(c.req.url);
    if (!allowed.has(host)) {
      throw new ProblemError("host_not_allowed", `host ${host} is not one this server answers to`);
    }
    await next();
  };
}

/** Host names a loopback server answers to when none are configured. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]", "::1"] as const;

/** Whether a listen address is loopback only (the case where the Host allow-list applies by default). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(?:\.\d{1,3}){3}$/.test(h);
}
