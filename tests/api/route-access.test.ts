import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { accessCheck, declaredAccess } from "../../routes/common/access.ts";
import { defineRoute } from "../../routes/common/route.ts";
import { openApiDocument } from "../../src/app.ts";
import { type TestApp, testApp } from "./helpers.ts";

/**
 * Issue 24: each route declares who may call it where it is defined (`access` in `defineRoute`,
 * `accessCheck("public")` on the plain routes). Read from the app's own route registry, so a new
 * route without a declaration fails here.
 */
const registry: TestApp = testApp();
const ACCESS = declaredAccess(registry.raw);
const DOCUMENT = openApiDocument(registry.raw);
registry.close();

describe("route access", () => {
  it("is declared by every registered route", () => {
    expect(ACCESS.size).toBeGreaterThan(20);
    expect([...ACCESS].filter(([, access]) => access === undefined).map(([route]) => route)).toEqual([]);
  });

  it("is public exactly outside /v1, where no key is authenticated", () => {
    for (const [route, access] of ACCESS) {
      const path = route.split(" ")[1] ?? "";
      expect(access === "public", route).toBe(!path.startsWith("/v1/"));
    }
  });

  it("is what the OpenAPI document says: no security when public, a bearer key otherwise", () => {
    for (const [path, item] of Object.entries(DOCUMENT.paths ?? {})) {
      for (const [method, operation] of Object.entries(item ?? {})) {
        const access = ACCESS.get(`${method.toUpperCase()} ${path}`);
        const security = (operation as { security?: unknown[] }).security;
        if (access === "public") expect(security, path).toEqual([]);
        else expect(security, path).toContainEqual({ bearerAuth: [] });
      }
    }
  });

  it("finds a route that declares none", () => {
    const app = new OpenAPIHono();
    app.get("/undeclared", (c) => c.text("ok"));
    app.get("/declared", accessCheck("public"), (c) => c.text("ok"));
    const route = defineRoute({
      method: "get",
      path: "/v1/thing",
      access: ["admin"],
      responses: { 204: { description: "Nothing" } },
    });
    app.openapi(route, (c) => c.body(null, 204));
    expect(Object.fromEntries(declaredAccess(app))).toEqual({
      "GET /undeclared": undefined,
      "GET /declared": "public",
      "GET /v1/thing": ["admin"],
    });
  });
});
