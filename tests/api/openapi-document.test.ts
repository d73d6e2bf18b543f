import { describe, expect, it } from "vitest";
import { renderOpenApi } from "../../openapi/generate.ts";

type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { $ref?: string; headers?: Record<string, unknown> }>;
};
type Doc = {
  servers: { url: string }[];
  security: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { required?: string[]; properties: Record<string, unknown> }>;
    securitySchemes: Record<string, unknown>;
    responses: Record<string, { headers: Record<string, unknown> }>;
  };
};

const doc = JSON.parse(renderOpenApi()) as Doc;
/** Operations anyone may call (they declare `access: "public"`). */
const PUBLIC_PATHS = ["/healthz", "/openapi.json"];
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
);

describe("the OpenAPI document", () => {
  it("names every operation once", () => {
    const ids = operations.map((o) => o.operation.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("has servers and a bearer key scheme applied to all but the public routes", () => {
    expect(doc.servers[0]?.url).toMatch(/^http/);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    for (const { path, operation } of operations) {
      const isPublic = PUBLIC_PATHS.includes(path);
      // Each route names its own; the events route also takes a stream token.
      if (isPublic) expect(operation.security, path).toEqual([]);
      else expect(operation.security, path).toContainEqual({ bearerAuth: [] });
      expect(operation.responses["401"] !== undefined, path).toBe(!isPublic);
    }
  });

  it("documents each operation's problems and headers", () => {
    for (const { path, operation } of operations) {
      expect(operation.responses["500"], path).toBeDefined();
      if (path.includes("{")) expect(operation.responses["404"], path).toBeDefined();
      if (operation.requestBody) expect(operation.responses["413"], path).toBeDefined();
      // 415 is the JSON-only guard's answer: a binary upload (a checkpoint) never gets it.
      const json = JSON.stringify(operation.requestBody ?? {}).includes('"application/json"');
      expect(operation.responses["415"] !== undefined, path).toBe(json);
      for (const [status, response] of Object.entries(operation.responses)) {
        // A problem answer is the shared response of its status, never a copy of it.
        if (Number(status) >= 400) expect(response.$ref, `${path} ${status}`).toBeDefined();
        const headers = response.$ref
          ? doc.components.responses[response.$ref.split("/").at(-1) ?? ""]?.headers
          : response.headers;
        expect(headers?.["X-Request-Id"], `${path} ${status}`).toBeDefined();
      }
    }
    expect(doc.components.responses.TooManyRequests?.headers["Retry-After"]).toBeDefined();
    const created = doc.paths["/v1/experiments"]?.post?.responses["201"];
    expect(created?.headers?.["Idempotent-Replayed"]).toBeDefined();
  });

  it("splits the spec: defaults optional in requests, present in responses", () => {
    const create = doc.paths["/v1/experiments"]?.post?.requestBody;
    expect(JSON.stringify(create)).toContain("#/components/schemas/ExperimentSpecInput");
    const input = doc.components.schemas.ExperimentSpecInput;
    expect(input?.required).toEqual(["name", "dataset"]);
    expect(JSON.stringify(input)).not.toContain('"default"');
    expect(doc.components.schemas.ExperimentSpec?.required).toEqual(
      expect.arrayContaining(["seeds", "backend", "requireGpu", "arms", "training"]),
    );
    expect(doc.components.schemas.Experiment?.properties.spec).toMatchObject({
      $ref: "#/components/schemas/ExperimentSpec",
    });
  });
});
