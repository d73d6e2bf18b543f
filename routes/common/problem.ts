import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  FIELD_LOCATIONS,
  type FieldError,
  PROBLEMS,
  type ProblemCode,
  type ProblemError,
} from "../../src/core/problem.ts";

/**
 * RFC 9457 problem details on the wire: the zod schema of the body (its OpenAPI component) and
 * the helpers that answer with it. The codes and the class to throw are in src/core/problem.ts.
 */
export {
  type FieldError,
  notFound,
  PROBLEMS,
  type ProblemCode,
  ProblemError,
} from "../../src/core/problem.ts";

export const FieldErrorSchema = z
  .object({
    location: z.enum(FIELD_LOCATIONS),
    /** Dotted path within that location, e.g. `training.lr`. */
    path: z.string(),
    message: z.string(),
  })
  .openapi("FieldError") satisfies z.ZodType<FieldError>;

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:autoprog:problem:not_found" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().openapi({ description: "The request path." }),
    code: z.enum(Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]]),
    requestId: z.string(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi("Problem");

export type Problem = z.infer<typeof ProblemSchema>;

export function problemBody(error: ProblemError, instance: string, requestId: string): Problem {
  const { status, title } = PROBLEMS[error.code];
  return {
    type: `urn:autoprog:problem:${error.code}`,
    title,
    status,
    ...(error.detail !== undefined ? { detail: error.detail } : {}),
    instance,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: [...error.errors] } : {}),
  };
}

export function problemResponse(c: Context, error: ProblemError): Response {
  const body = problemBody(error, c.req.path, String(c.get("requestId") ?? ""));
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, {
    "Content-Type": "application/problem+json",
  });
}

/** OpenAPI `responses` entries for the problems a route can answer with. */
export function problemResponses<
  const S extends readonly (400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503)[],
>(...statuses: S) {
  const content = { "application/problem+json": { schema: ProblemSchema } };
  const descriptions = {
    400: "Malformed request",
    401: "No valid API key",
    403: "The key's role may not do this",
    404: "Unknown id",
    409: "Conflict",
    413: "The body is over the limit",
    422: "Invalid input",
    429: "Too many requests (see Retry-After)",
    503: "Not available on this server",
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: descriptions[s], content }])) as {
    [K in S[number]]: { description: string; content: typeof content };
  };
}
