import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";

/** The OpenAPI names of the two ways to authenticate (see src/auth/middleware.ts). */
export const BEARER_AUTH = "bearerAuth";
export const STREAM_TOKEN = "streamToken";

/** `security` of a route that takes an API key. */
export const bearerSecurity: { [scheme: string]: string[] }[] = [{ [BEARER_AUTH]: [] }];

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_AUTH, {
    type: "http",
    scheme: "bearer",
    description: "An API key (`ap_…`): `Authorization: Bearer ap_…`.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", STREAM_TOKEN, {
    type: "apiKey",
    in: "query",
    name: "token",
    description: "A stream token from `POST /v1/runs/{id}/stream-token`, for that run's events only.",
  });
}
