import type { OpenAPIHono } from "@hono/zod-openapi";

/** The app's OpenAPI registry (zod-openapi does not export its type). */
type Registry = OpenAPIHono["openAPIRegistry"];

/** The OpenAPI names of the two ways to authenticate (see src/auth/middleware.ts). */
export const BEARER_AUTH = "bearerAuth";
export const STREAM_TOKEN = "streamToken";

/** Each scheme, registered once; routes name theirs through `defineRoute` (routes/common/route.ts). */
export function registerSecuritySchemes(registry: Registry) {
  registry.registerComponent("securitySchemes", BEARER_AUTH, {
    type: "http",
    scheme: "bearer",
    description: "An API key (`ap_…`): `Authorization: Bearer ap_…`.",
  });
  registry.registerComponent("securitySchemes", STREAM_TOKEN, {
    type: "apiKey",
    in: "query",
    name: "token",
    description: "A stream token from `POST /v1/runs/{id}/stream-token`, for that run's events only.",
  });
}
