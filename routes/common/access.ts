import type { Hono, MiddlewareHandler } from "hono";
import type { KeyRole } from "../../db/schema.ts";
import type { AppEnv } from "../../src/services.ts";
import { ProblemError } from "./problem.ts";

/**
 * Who may call a route, declared where the route is: anyone without a key (`"public"`), or keys
 * of the listed roles. Authentication (the key, the limits) is src/auth/middleware.ts's, on every
 * `/v1` route; what a key's role may call is this check, run by the route itself.
 */
export type Access = "public" | readonly KeyRole[];

/** A project's member routes: everything but key management and the pull-worker protocol. */
export const MEMBERS: readonly KeyRole[] = ["operator", "admin", "member"];
/** Key management. */
export const ADMINS: readonly KeyRole[] = ["operator", "admin"];
/** The pull-worker protocol: only worker keys, and worker keys only. */
export const WORKERS: readonly KeyRole[] = ["worker"];

/** Each access check and the access it enforces, so a test can find a route that declares none. */
const declared = new WeakMap<object, Access>();

/** The middleware that enforces `access`, first in its route's handlers. */
export function accessCheck(access: Access): MiddlewareHandler<AppEnv> {
  const check: MiddlewareHandler<AppEnv> =
    access === "public"
      ? (_c, next) => next()
      : async (c, next) => {
          const { role } = c.get("principal");
          if (!access.includes(role)) {
            const why =
              role === "worker"
                ? "worker keys are reserved for pull workers"
                : access.includes("worker")
                  ? "this route is reserved for pull workers' keys"
                  : `a ${role} key may not call it`;
            throw new ProblemError("forbidden", `${c.req.method} ${c.req.path}: ${why}`);
          }
          await next();
        };
  declared.set(check, access);
  return check;
}

/** The access a handler enforces, when it is an access check. */
export const accessOf = (handler: unknown): Access | undefined =>
  typeof handler === "function" ? declared.get(handler) : undefined;

/**
 * Every route of `app` (as "METHOD /path") with the access its handlers declare; `undefined`
 * where none does. Middleware mounted with `use` (method ALL) is not a route.
 */
export function declaredAccess(app: Pick<Hono, "routes">): Map<string, Access | undefined> {
  const routes = new Map<string, Access | undefined>();
  for (const { method, path, handler } of app.routes) {
    if (method === "ALL") continue;
    const route = `${method} ${path.replace(/:(\w+)/g, "{$1}")}`;
    routes.set(route, routes.get(route) ?? accessOf(handler));
  }
  return routes;
}
