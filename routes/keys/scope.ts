import type { Context } from "hono";
import type { KeyScope } from "../../db/keys.ts";
import type { AppEnv } from "../../src/services.ts";
import { type FieldError, ProblemError } from "../common/problem.ts";

/**
 * Whose keys the caller manages: an operator's are every project's (null); a project admin's
 * are its own project's, operator keys left out.
 */
export function keyScopeOf(c: Context<AppEnv>): KeyScope | null {
  return c.get("principal").role === "operator" ? null : { projectId: c.get("projectId") };
}

/**
 * The project a key request names, checked against the caller's scope: absent means the
 * caller's own project; a project admin naming another is 403 naming the field, the same answer
 * whether that project exists or not (so it tells nothing about other tenants).
 */
export function projectOfRequest(
  c: Context<AppEnv>,
  named: string | undefined,
  location: FieldError["location"],
): string {
  const scope = keyScopeOf(c);
  if (named === undefined) return c.get("projectId");
  if (scope === null || named === scope.projectId) return named;
  throw new ProblemError(
    "forbidden",
    `an admin key manages its own project's keys (${scope.projectId}) only`,
    [
      {
        location,
        path: "project",
        message: `must be ${scope.projectId} (or left out); other projects are an operator's`,
      },
    ],
  );
}
