import { createRoute, type OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "../../src/services.ts";
import { type Access, accessCheck } from "./access.ts";
import { PROBLEM_ANSWERS, ProblemSchema, type ProblemStatus, problemAnswer } from "./problem.ts";
import { rejectUnknownQuery } from "./query.ts";
import { BEARER_AUTH, registerSecuritySchemes, STREAM_TOKEN } from "./security.ts";

/** The headers the document names once (`#/components/headers/<name>`). */
const HEADERS = {
  XRequestId: {
    description:
      "The request's id (the client's `X-Request-Id`, or one the server made); problem bodies repeat it.",
    schema: { type: "string" as const },
  },
  RetryAfter: {
    description: "Seconds to wait before trying again.",
    schema: { type: "integer" as const, minimum: 0 },
  },
  IdempotentReplayed: {
    description:
      "`true` when the answer is the stored one of an earlier request with the same `Idempotency-Key`.",
    schema: { type: "string" as const, enum: ["true"] },
  },
};

/** The `Location` of a created resource (201). */
export const LOCATION_HEADER = { Location: { schema: { type: "string" as const }, required: true } };

/** The reference to a shared header. */
export const headerRef = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** A route as its module declares it: `createRoute`'s config, who may call it, and its own problems. */
export type DeclaredRoute = Omit<RouteConfig, "security" | "middleware"> & {
  readonly access: Access;
  /**
   * The problems particular to this route (404 for an unknown id, 409 for a state conflict…).
   * Those its kind always answers are added: 401/429/503 with a key, 403 (role or Host), 413/415
   * for a JSON body, 422 when it takes input, 500.
   */
  readonly problems?: readonly ProblemStatus[];
  /** Besides the bearer key, a run's stream token is accepted (that run's events only). */
  readonly streamToken?: true;
  /** The route's own middleware, after the access check, so a refused key reaches none of it. */
  // biome-ignore lint/suspicious/noExplicitAny: each route's middleware has its own Env (idempotency's adds a variable).
  readonly middleware?: readonly MiddlewareHandler<any>[];
};

/** The problems every route of this kind answers, from the middleware in front of it (src/app.ts). */
function sharedProblems(declared: DeclaredRoute): ProblemStatus[] {
  const keyed = declared.access !== "public";
  const { body } = declared.request ?? {};
  const jsonBody = body !== undefined && "application/json" in body.content;
  return [
    ...(keyed ? ([401] as const) : []),
    403,
    ...(body !== undefined ? ([413] as const) : []),
    ...(jsonBody ? ([415] as const) : []),
    // Every route refuses an unknown query parameter.
    422,
    ...(keyed ? ([429, 503] as const) : []),
    500,
  ];
}

/** The query parameters a route takes: its declared ones, and `token` where a stream token is accepted. */
function queryParameters(declared: DeclaredRoute): string[] {
  const query = declared.request?.query;
  const names = query instanceof z.ZodObject ? Object.keys(query.shape) : [];
  return declared.streamToken ? [...names, "token"] : names;
}

/**
 * `createRoute` with the route's HTTP facts declared in one place: its `security` (none when
 * public), its problem answers (shared responses), `X-Request-Id` on its own answers, the
 * access check that enforces its roles as its first middleware, then the refusal of a query
 * parameter it does not declare (routes/common/query.ts).
 */
export function defineRoute<const R extends DeclaredRoute>(declared: R) {
  const { access, problems = [], streamToken, middleware = [], ...config } = declared;
  const security: { [scheme: string]: string[] }[] =
    access === "public" ? [] : [{ [BEARER_AUTH]: [] }, ...(streamToken ? [{ [STREAM_TOKEN]: [] }] : [])];
  const own = Object.fromEntries(
    Object.entries(config.responses).map(([status, response]) => {
      if ("$ref" in response) return [status, response];
      if (response.headers instanceof z.ZodType) {
        throw new Error(`${config.path} ${status}: declare response headers as an OpenAPI headers object`);
      }
      return [
        status,
        { ...response, headers: { ...response.headers, "X-Request-Id": headerRef("XRequestId") } },
      ];
    }),
  );
  const answers = Object.fromEntries(
    [...sharedProblems(declared), ...problems].map((status) => [status, problemAnswer(status)]),
  );
  return createRoute({
    ...config,
    security,
    // The added entries are references without content: the handler's typed answers stay its own.
    responses: { ...answers, ...own } as R["responses"],
    // Typed as the access check's Env: zod-openapi derives the handler's Env from this tuple, and a
    // handler that reads what its own middleware adds declares that Env itself.
    middleware: [accessCheck(access), rejectUnknownQuery(queryParameters(declared)), ...middleware] as [
      MiddlewareHandler<AppEnv>,
      ...MiddlewareHandler<AppEnv>[],
    ],
  });
}

/**
 * A 200 JSON answer whose text is already made (a kept one): the bytes `c.json` would send for
 * the value, typed as `c.json`'s answer so the route still checks against its schema.
 */
export function jsonText<T>(c: Context, text: string): Response & TypedResponse<JSONParsed<T>, 200, "json"> {
  // The cast restores the type `c.json` carries; the text is JSON.stringify of a T.
  const answer: Response = c.body(text, 200, { "Content-Type": "application/json" });
  return answer as Response & TypedResponse<JSONParsed<T>, 200, "json">;
}

/** Registers what routes refer to by name: the security schemes, shared headers and problem answers. */
export function registerSharedComponents(app: OpenAPIHono<AppEnv>) {
  const registry = app.openAPIRegistry;
  registerSecuritySchemes(registry);
  for (const [name, header] of Object.entries(HEADERS)) registry.registerComponent("headers", name, header);
  registry.register("Problem", ProblemSchema);
  for (const [status, { name, description }] of Object.entries(PROBLEM_ANSWERS)) {
    registry.registerComponent("responses", name, {
      description,
      headers: {
        "X-Request-Id": headerRef("XRequestId"),
        ...(status === "429" ? { "Retry-After": headerRef("RetryAfter") } : {}),
      },
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    });
  }
}
