/**
 * RFC 9457 problem details: one error shape, one code → status table, one class to throw.
 * Every body carries the request id; zod failures list one entry per bad field. The class and
 * its table live here, below every layer that throws them (auth, routes); the wire schema and
 * the response helpers are in routes/common/problem.ts.
 */
export const PROBLEMS = {
  malformed_request: { status: 400, title: "The request could not be read" },
  unauthenticated: { status: 401, title: "A valid API key is required" },
  forbidden: { status: 403, title: "The key's role may not do this" },
  not_found: { status: 404, title: "Not found" },
  run_not_cancellable: { status: 409, title: "The run has already ended" },
  run_not_pausable: { status: 409, title: "Only a queued or running run can be paused" },
  run_not_paused: { status: 409, title: "Only a paused run can be resumed" },
  webhook_disabled: { status: 409, title: "The webhook endpoint is disabled" },
  idempotency_key_in_use: { status: 409, title: "A request with this Idempotency-Key is still in progress" },
  last_admin_key: { status: 409, title: "The last admin key cannot be revoked" },
  lease_lost: { status: 409, title: "The lease is no longer this token's" },
  checkpoint_not_held: { status: 409, title: "The run holds no checkpoint at that epoch" },
  host_not_allowed: { status: 403, title: "This server does not answer to that host name" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "The request body is not JSON" },
  validation_failed: { status: 422, title: "The request is not valid" },
  idempotency_key_mismatch: { status: 422, title: "This Idempotency-Key was used for a different request" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal server error" },
  not_bootstrapped: { status: 503, title: "The service has no API key yet" },
  checkpoint_store_unavailable: { status: 503, title: "No checkpoint store is configured" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** Where a bad field was found in the request. */
export const FIELD_LOCATIONS = ["body", "query", "path", "header"] as const;

export interface FieldError {
  readonly location: (typeof FIELD_LOCATIONS)[number];
  /** Dotted path within that location, e.g. `training.lr`. */
  readonly path: string;
  readonly message: string;
}

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
