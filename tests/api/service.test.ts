import { readFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OPENAPI_FILE, renderOpenApi } from "../../openapi/generate.ts";
import { read, type TestApp, testApp } from "./helpers.ts";

type OpenApiDoc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { $ref?: string }> }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, { content: unknown }> };
};

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

describe("the service's own routes", () => {
  it("GET /healthz answers ok", async () => {
    const response = await t.app.request("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", time: "2026-01-01T00:00:00.000Z" });
  });

  it("GET /openapi.json is an OpenAPI 3.1 document of every route", async () => {
    const doc = await read<OpenApiDoc>(t.app.request("/openapi.json"));
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/healthz",
      "/openapi.json",
      "/v1/experiments",
      "/v1/experiments/validate",
      "/v1/experiments/{id}",
      "/v1/experiments/{id}/report",
      "/v1/experiments/{id}/runs",
      "/v1/keys",
      "/v1/keys/{id}",
      "/v1/queue",
      "/v1/runs",
      "/v1/runs/{id}",
      "/v1/runs/{id}/cancel",
      "/v1/runs/{id}/checkpoints",
      "/v1/runs/{id}/checkpoints/{epoch}",
      "/v1/runs/{id}/events",
      "/v1/runs/{id}/fork",
      "/v1/runs/{id}/metrics",
      "/v1/runs/{id}/metrics/keys",
      "/v1/runs/{id}/model",
      "/v1/runs/{id}/pause",
      "/v1/runs/{id}/resume",
      "/v1/runs/{id}/search",
      "/v1/runs/{id}/stages",
      "/v1/runs/{id}/stream-token",
      "/v1/webhook-deliveries/{id}/redeliver",
      "/v1/webhooks",
      "/v1/webhooks/{id}",
      "/v1/webhooks/{id}/deliveries",
      "/v1/webhooks/{id}/rotate-secret",
      "/v1/webhooks/{id}/test",
      "/v1/workers/heartbeat",
      "/v1/workers/lease",
      "/v1/workers/release",
    ]);
    // Problem answers are the shared responses, one per status.
    const invalid = doc.paths["/v1/experiments"]?.post?.responses["422"]?.$ref?.split("/").at(-1) ?? "";
    expect(doc.components.responses[invalid]?.content).toHaveProperty(["application/problem+json"]);
    expect(doc.components.schemas).toHaveProperty("ExperimentSpec");
  });

  it("gives every operation at most one success body, so a generated client has one type to return", async () => {
    type Operation = { responses: Record<string, { content?: object }> };
    const doc = await read<{ paths: Record<string, Record<string, Operation>> }>(
      t.app.request("/openapi.json"),
    );
    // A body-less 2xx (the lease's 204: no run waiting) adds no type to narrow.
    const several = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, { responses }]) => {
          const bodies = Object.entries(responses).filter(
            ([status, r]) => status.startsWith("2") && r.content,
          );
          return bodies.length > 1;
        })
        .map(([method]) => `${method} ${path}`),
    );
    expect(several).toEqual([]);
  });

  it("the checked-in openapi/openapi.json is current (run `npm run openapi` after changing a route)", async () => {
    expect(await readFile(OPENAPI_FILE, "utf8")).toBe(renderOpenApi());
  });

  it("GET /reference serves a browsable reference page for the document", async () => {
    const response = await t.app.request("/reference");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("/openapi.json");
  });

  it("every answer carries a request id, and an error body repeats it", async () => {
    const response = await t.app.request("/v1/runs/run_x", { headers: { "x-request-id": "req-123" } });
    expect(response.headers.get("x-request-id")).toBe("req-123");
    expect((await read<{ requestId: string }>(response)).requestId).toBe("req-123");
  });
});
