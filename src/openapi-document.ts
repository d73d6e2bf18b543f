/**
 * The OpenAPI document's static parts (info, servers, the default security) and the experiment
 * spec split into a request schema (defaults optional) and a response schema (defaults filled
 * in), which zod-to-openapi cannot tell apart. Everything about an operation (its security,
 * problem answers, headers) is declared by its route (routes/common/route.ts).
 */
import { BEARER_AUTH } from "../routes/common/security.ts";

/** A JSON object of the document (the generator's types stop at `unknown` for schemas). */
type Json = Record<string, unknown>;

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "autoprog",
    version: "0.1.0",
    description:
      "Train Vision Transformers with automated progressive learning (AutoProg): submit an experiment " +
      "(arms × seeds), follow each run's events, read the per-arm report.",
  },
  servers: [{ url: "http://127.0.0.1:8787", description: "`npm start` (AUTOPROG_HOST, AUTOPROG_PORT)" }],
  // Each operation names its own; this default covers one that would not.
  security: [{ [BEARER_AUTH]: [] as string[] }],
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

const SPEC_REF = "#/components/schemas/ExperimentSpec";

/**
 * Splits the spec's schema in a generated document (a new object; the input is left alone):
 * request bodies refer to `ExperimentSpecInput`, responses to `ExperimentSpec`.
 */
export function splitSpecSchema<T extends object>(generated: T): T {
  const doc = structuredClone(generated) as unknown as Json;
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Json;
  const spec = schemas.ExperimentSpec;
  if (spec === undefined) return doc as unknown as T;
  schemas.ExperimentSpecInput = withoutDefaults(spec);
  schemas.ExperimentSpec = defaultsRequired(spec);
  for (const holder of ["Experiment", "ExperimentSummary", "ExperimentPlan", "WorkerLease"]) {
    const properties = (schemas[holder] as Json | undefined)?.properties as Json | undefined;
    if (properties?.spec) properties.spec = { $ref: SPEC_REF, description: "The normalised spec." };
  }
  for (const item of Object.values((doc.paths ?? {}) as Json)) {
    for (const operation of Object.values(item as Json)) {
      const body = ((operation as Json).requestBody as Json | undefined)?.content as Json | undefined;
      const json = body?.["application/json"] as Json | undefined;
      if (isObject(json?.schema) && json.schema.$ref === SPEC_REF) {
        json.schema = { $ref: "#/components/schemas/ExperimentSpecInput" };
      }
    }
  }
  return doc as unknown as T;
}
