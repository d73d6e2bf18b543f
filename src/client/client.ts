import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "../../openapi/sdk/schema.ts";
import { isTransientStatus } from "../kit/backoff.ts";

/**
 * The typed API client: openapi-fetch over the types generated from openapi/openapi.json
 * (`npm run sdk`), so every path, parameter and body is checked against the document and
 * nothing is written twice. No tfjs, no database, no server code on this path.
 */
export type AutoprogClient = Client<paths>;
export type Problem = components["schemas"]["Problem"];

/** The port `autoprog serve` listens on unless told otherwise (AUTOPROG_PORT in src/env.ts). */
export const DEFAULT_API_URL = "http://127.0.0.1:8787";

export interface AutoprogClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8787 (default). */
  readonly api?: string;
  /** An API key, sent as `Authorization: Bearer <key>`. */
  readonly key?: string | undefined;
  /** Replaces the global fetch (tests, proxies). */
  readonly fetch?: typeof fetch;
}

/** The API answered with an error: the RFC 9457 problem it sent, when it sent one. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem ? problemText(problem) : `HTTP ${status}`);
  }
}

/** The request never got an answer (connection refused, DNS, reset): says which URL. */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
  constructor(
    readonly url: string,
    override readonly cause: unknown,
  ) {
    super(`cannot reach the autoprog API at ${url}: ${causeText(cause)}`);
  }
}

/**
 * Worth another try: the request got no answer (refused, reset, a body that broke off: fetch
 * throws a TypeError) or the server was broken or busy. A problem the server stated (4xx) never is.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) return isTransientStatus(error.status);
  return error instanceof ConnectionError || error instanceof TypeError;
}

export function createAutoprogClient(options: AutoprogClientOptions = {}): AutoprogClient {
  const api = (options.api ?? DEFAULT_API_URL).replace(/\/+$/, "");
  const baseFetch = options.fetch ?? globalThis.fetch;
  const client = createClient<paths>({
    baseUrl: api,
    // Wrapped so a refused connection names the URL instead of undici's bare "fetch failed".
    fetch: async (request: Request) => {
      try {
        return await baseFetch(request);
      } catch (error) {
        if (request.signal.aborted) throw error;
        throw new ConnectionError(api, error);
      }
    },
  });
  const key = options.key;
  if (key) {
    client.use({
      onRequest: ({ request }) => {
        request.headers.set("authorization", `Bearer ${key}`);
        return request;
      },
    });
  }
  return client;
}

/**
 * The data of an openapi-fetch result, or an ApiError carrying the problem+json body. Keeps
 * call sites to one line: `const run = unwrap(await client.GET(...))`.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok && result.data !== undefined) return result.data;
  if (result.response.ok && result.response.status === 204) return undefined as T;
  throw new ApiError(result.response.status, asProblem(result.error));
}

/** The body as a problem+json document, when it is one. */
export function asProblem(body: unknown): Problem | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const candidate = body as Partial<Problem>;
  return typeof candidate.title === "string" && typeof candidate.status === "number"
    ? (body as Problem)
    : undefined;
}

/** `title: detail` and one line per invalid field: what a person needs to fix the request. */
export function problemText(problem: Problem): string {
  const head = problem.detail ? `${problem.title}: ${problem.detail}` : problem.title;
  const fields = (problem.errors ?? []).map((e) => `\n  ${fieldText(e)}`);
  return head + fields.join("");
}

function fieldText(error: components["schemas"]["FieldError"]): string {
  return `${error.location}${error.path ? ` ${error.path}` : ""}: ${error.message}`;
}

function causeText(cause: unknown): string {
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  const code = (inner as { code?: unknown } | null)?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (typeof code === "string") return code;
  return inner instanceof Error ? inner.message : String(inner);
}
