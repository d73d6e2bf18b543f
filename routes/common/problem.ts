import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * RFC 9457 problem details: one error shape, one code → status table, one class to throw.
 * Every body carries the request id; zod failures list one entry per bad field.
 */
export const PROBLEMS = {
  malformed_request: { status: 400, title: "The request could not be read" },
  unauthenticated: { status: 401, title: "A valid API key is required" },
  forbidden: { status: 403, title: "The key's role may not do this" },
  not_found: { status: 404, title: "Not found" },
  run_not_cancellable: { status: 409, title: "The run has already ended" },
  webhook_disabled: { status: 409, title: "The webhook endpoint is disabled" },
  idempotency_key_in_use: { status: 409, title: "A request with this Idempotency-Key is still in progress" },
  last_admin_key: { status: 409, title: "The last admin key cannot be revoked" },
  lease_lost: { status: 409, title: "The lease is no longer this token's" },
  host_not_allowed: { status: 403, title: "This server does not answer to that host name" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "The request body is not JSON" },
  validation_failed: { status: 422, title: "The request is not valid" },
  idempotency_key_mismatch: { status: 422, title: "This Idempotency-Key was used for a different request" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal server error" },
  not_bootstrapped: { status: 503, title: "The service has no API key yet" },
  checkpoint_store_unavailable: { status: 503, title: "No checkpoint store is configured" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export const FieldErrorSchema = z
  .object({
    location: z.enum(["body", "query", "path", "header"]),
    /** Dotted path within that location, e.g. `training.lr`. */
    path: z.string(),
    message: z.string(),
  })
  .openapi("FieldError");

export type FieldError = z.infer<typeof FieldErrorSchema>;

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

export class ProblemError extends Error {
  override readonly name = "ProblemError";
  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    readonly errors?: readonly FieldError[],
  ) {
    super(detail ?? PROBLEMS[code].title);
  }
}

export const notFound = (what: string, id: string) => new ProblemError("not_found", `no ${what} ${id}`);

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
