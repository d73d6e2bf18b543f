/**
 * The OpenAPI document's shape beyond what the routes declare: servers, the bearer-key scheme,
 * the problem answers every operation can give, the headers every answer carries, and the
 * experiment spec split into a request schema (defaults optional) and a response schema
 * (defaults filled in). Applied to the generated document once, so each route declares only
 * what is particular to it.
 */

/** A JSON object of the document (the generator's types stop at `unknown` for schemas). */
type Json = Record<string, unknown>;

/** Operations anyone may call: no key (`security: []`). */
export const PUBLIC_PATHS = ["/healthz", "/openapi.json"] as const;

const problem = (description: string, extraHeaders: Json = {}) => ({
  description,
  headers: { "X-Request-Id": { $ref: "#/components/headers/XRequestId" }, ...extraHeaders },
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});

const RESPONSES: Record<string, { status: string; body: Json }> = {
  Unauthorized: { status: "401", body: problem("No API key, or one that is not valid") },
  Forbidden: {
    status: "403",
    body: problem("The key may not do this, or the Host header is not one the server answers to"),
  },
  NotFound: { status: "404", body: problem("Unknown id") },
  PayloadTooLarge: { status: "413", body: problem("The body is over the server's limit (1 MiB by default)") },
  UnsupportedMediaType: { status: "415", body: problem("The body is not `application/json`") },
  ValidationFailed: { status: "422", body: problem("Invalid input: one entry per bad field") },
  TooManyRequests: {
    status: "429",
    body: problem("Too many requests for this key", {
      "Retry-After": { $ref: "#/components/headers/RetryAfter" },
    }),
  },
  InternalError: { status: "500", body: problem("The server could not complete the request") },
  NotBootstrapped: {
    status: "503",
    body: problem("No API key exists yet: on Workers, set the `AUTOPROG_BOOTSTRAP_KEY` secret"),
  },
};

const HEADERS: Json = {
  XRequestId: {
    description:
      "The request's id (the client's `X-Request-Id`, or one the server made); problem bodies repeat it.",
    schema: { type: "string" },
  },
  RetryAfter: {
    description: "Seconds to wait before trying again.",
    schema: { type: "integer", minimum: 0 },
  },
  IdempotentReplayed: {
    description:
      "`true` when the answer is the stored one of an earlier request with the same `Idempotency-Key`.",
    schema: { type: "string", enum: ["true"] },
  },
};

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Request side: a field with a default may be left out, so no `default` (generators would require it). */
function withoutDefaults(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDefaults);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "default") continue;
    if (key === "properties" && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, v]) => [name, withoutDefaults(v)]));
    } else if (key === "example" || key === "examples" || key === "enum" || key === "const") {
      out[key] = value;
    } else {
      out[key] = withoutDefaults(value);
    }
  }
  const fallback = schema.default;
  if (fallback !== undefined) {
    const note = `Default: \`${JSON.stringify(fallback)}\`.`;
    out.description = typeof out.description === "string" ? `${out.description} ${note}` : note;
  }
  return out;
}

/** Response side: the server fills every default in, so those fields are always present. */
function defaultsRequired(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(defaultsRequired);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "example" || key === "examples" || key === "enum" || key === "const" || key === "default") {
      out[key] = value;
    } else if (key === "properties" && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, v]) => [name, defaultsRequired(v)]));
    } else {
      out[key] = defaultsRequired(value);
    }
  }
  if (isObject(schema.properties)) {
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    for (const [name, property] of Object.entries(schema.properties)) {
      if (isObject(property) && property.default !== undefined) required.add(name);
    }
    if (required.size > 0) out.required = [...required];
  }
  return out;
}

const METHODS = ["get", "put", "post", "delete", "patch"] as const;

/** Adds what every operation shares to a generated document (a new object; the input is left alone). */
export function polishDocument<T extends object>(generated: T): T {
  const doc = structuredClone(generated) as unknown as Json;
  const components = (doc.components ?? {}) as Json;
  const schemas = (components.schemas ?? {}) as Json;

  const spec = schemas.ExperimentSpec;
  if (spec !== undefined) {
    schemas.ExperimentSpecInput = withoutDefaults(spec);
    schemas.ExperimentSpec = defaultsRequired(spec);
    for (const holder of ["Experiment", "ExperimentSummary", "ExperimentPlan", "WorkerLease"]) {
      const properties = (schemas[holder] as Json | undefined)?.properties as Json | undefined;
      if (properties?.spec) {
        properties.spec = {
          $ref: "#/components/schemas/ExperimentSpec",
          description: "The normalised spec.",
        };
      }
    }
  }
  components.schemas = schemas;
  components.headers = { ...((components.headers as Json) ?? {}), ...HEADERS };
  components.securitySchemes = {
    ...((components.securitySchemes as Json) ?? {}),
    bearerAuth: {
      type: "http",
      scheme: "bearer",
      description: "An API key (`ap_…`): `Authorization: Bearer ap_…`.",
    },
  };
  doc.components = components;
  doc.security = [{ bearerAuth: [] }];

  const used = new Set<string>();
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Json)) {
    for (const method of METHODS) {
      const operation = (item as Json)[method] as Json | undefined;
      if (!operation) continue;
      for (const name of polishOperation(path, operation)) used.add(name);
    }
  }
  // Only the shared answers some operation refers to (an unused component is a lint warning).
  components.responses = Object.fromEntries(
    Object.entries(RESPONSES)
      .filter(([name]) => used.has(name))
      .map(([name, r]) => [name, r.body]),
  );
  return doc as unknown as T;
}

/** Completes one operation; returns the shared responses it refers to. */
function polishOperation(path: string, operation: Json): string[] {
  const isPublic = (PUBLIC_PATHS as readonly string[]).includes(path);
  const responses = operation.responses as Json;
  const requestBody = operation.requestBody as Json | undefined;
  if (isPublic) operation.security = [];
  const content = isObject(requestBody?.content) ? requestBody.content : undefined;
  if (content?.["application/json"] && isObject(content["application/json"])) {
    const body = content["application/json"] as Json;
    if (isObject(body.schema) && body.schema.$ref === "#/components/schemas/ExperimentSpec") {
      body.schema = { $ref: "#/components/schemas/ExperimentSpecInput" };
    }
  }
  const wanted: string[] = [];
  if (!isPublic) wanted.push("Unauthorized");
  // Every route answers 403 to a Host it does not serve.
  wanted.push("Forbidden");
  if (path.includes("{")) wanted.push("NotFound");
  if (requestBody) wanted.push("PayloadTooLarge", "UnsupportedMediaType");
  if (requestBody || (Array.isArray(operation.parameters) && operation.parameters.length > 0)) {
    wanted.push("ValidationFailed");
  }
  if (!isPublic) wanted.push("TooManyRequests");
  wanted.push("InternalError");
  if (!isPublic) wanted.push("NotBootstrapped");
  const referenced: string[] = [];
  for (const name of wanted) {
    const { status } = RESPONSES[name] as { status: string };
    if (responses[status] !== undefined) continue;
    responses[status] = { $ref: `#/components/responses/${name}` };
    referenced.push(name);
  }
  for (const [status, response] of Object.entries(responses)) {
    if (!isObject(response) || response.$ref !== undefined) continue;
    const headers = (response.headers ?? {}) as Json;
    headers["X-Request-Id"] = { $ref: "#/components/headers/XRequestId" };
    if (operation.operationId === "createExperiment" && status.startsWith("2")) {
      headers["Idempotent-Replayed"] = { $ref: "#/components/headers/IdempotentReplayed" };
    }
    response.headers = headers;
  }
  return referenced;
}
