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

/** A status some route answers with a problem; each has one shared response in the document. */
export type ProblemStatus = keyof typeof PROBLEM_ANSWERS;

/**
 * The problem answers as OpenAPI response components (`#/components/responses/<name>`), one per
 * status, so every route that answers a status refers to the same description.
 */
export const PROBLEM_ANSWERS = {
  400: { name: "MalformedRequest", description: "The request could not be read" },
  401: { name: "Unauthorized", description: "No API key, or one that is not valid" },
  403: {
    name: "Forbidden",
    description: "The key may not do this, or the Host header is not one the server answers to",
  },
  404: { name: "NotFound", description: "Unknown id" },
  409: { name: "Conflict", description: "The resource's state does not allow it now (see `code`)" },
  413: { name: "PayloadTooLarge", description: "The body is over the server's limit (1 MiB by default)" },
  415: { name: "UnsupportedMediaType", description: "The body is not `application/json`" },
  422: { name: "ValidationFailed", description: "Invalid input: one entry per bad field" },
  429: { name: "TooManyRequests", description: "Too many requests for this key" },
  500: { name: "InternalError", description: "The server could not complete the request" },
  503: {
    name: "Unavailable",
    description:
      "Not available on this server: no API key exists yet (on Workers, set the " +
      "`AUTOPROG_BOOTSTRAP_KEY` secret), or what the route needs is not configured (see `code`)",
  },
} as const satisfies Record<number, { name: string; description: string }>;

/** The reference to the shared response of a problem status. */
export const problemAnswer = (status: ProblemStatus) => ({
  $ref: `#/components/responses/${PROBLEM_ANSWERS[status].name}`,
});
