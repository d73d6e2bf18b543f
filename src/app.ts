import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { accessCheck } from "../routes/common/access.ts";
import { allowHosts, DEFAULT_MAX_BODY_BYTES, limitBody, requireJsonBody } from "../routes/common/guards.ts";
import { validationHook } from "../routes/common/hook.ts";
import { ProblemError, problemResponse } from "../routes/common/problem.ts";
import { defineRoute, registerSharedComponents } from "../routes/common/route.ts";
import { registerExperimentRoutes } from "../routes/experiments/index.ts";
import { registerHealth } from "../routes/health/index.ts";
import { registerKeyRoutes } from "../routes/keys/index.ts";
import { registerQueueRoutes } from "../routes/queue/index.ts";
import { registerReference } from "../routes/reference/index.ts";
import { registerRunRoutes } from "../routes/runs/index.ts";
import { registerUi, type UiAssets } from "../routes/ui/index.ts";
import { registerWebhookRoutes } from "../routes/webhooks/index.ts";
import { registerWorkerRoutes } from "../routes/workers/index.ts";
import { isCheckpointUpload } from "../routes/workers/lease-state.ts";
import { authenticate } from "./auth/middleware.ts";
import { OPENAPI_INFO, splitSpecSchema } from "./openapi-document.ts";
import type { AppEnv, Services } from "./services.ts";

export interface AppDeps {
  /** The services of one request: a fixed set on Node, built from bindings on Workers. */
  readonly services: Services | ((c: Context<AppEnv>) => Services);
  /** Called with every 5xx (the only errors worth a log line). */
  readonly onServerError?: (error: unknown, c: Context<AppEnv>) => void;
  /** Larger request bodies are refused with 413 (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Host names the server answers to (403 for others); null or absent: any. */
  readonly allowedHosts?: readonly string[] | null;
  /** Runs on `/v1` before authentication (Workers: creates the first, operator, key from a secret). */
  readonly beforeAuth?: MiddlewareHandler<AppEnv>;
  /** The dashboard's built script and styles (src/ui/dist), served under /ui; absent: 404. */
  readonly ui?: UiAssets;
}

const openApiRoute = defineRoute({
  method: "get",
  operationId: "getOpenApiDocument",
  path: "/openapi.json",
  access: "public",
  tags: ["service"],
  summary: "This OpenAPI 3.1 document",
  responses: {
    200: {
      description: "The document",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
  },
});

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const resolve = typeof deps.services === "function" ? deps.services : () => deps.services as Services;

  app.use(requestId());
  if (deps.allowedHosts) app.use(allowHosts(deps.allowedHosts));
  // Hono's secure-headers: nosniff, frame and referrer policies, HSTS and the rest of Helmet's set.
  app.use(secureHeaders());
  // A checkpoint upload is binary and has its own ceiling (routes/workers/checkpoints.ts).
  const jsonBodyLimit = limitBody(deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  const jsonOnly = requireJsonBody();
  app.use((c, next) => (isCheckpointUpload(c) ? next() : jsonBodyLimit(c, next)));
  app.use("/v1/*", (c, next) => (isCheckpointUpload(c) ? next() : jsonOnly(c, next)));
  app.use(async (c, next) => {
    c.set("services", resolve(c));
    await next();
  });
  // Everything under /v1 needs a key (each route's roles are its own check, routes/common/access.ts);
  // /healthz, /openapi.json, /reference and /ui declare themselves public.
  if (deps.beforeAuth) app.use("/v1/*", deps.beforeAuth);
  app.use("/v1/*", authenticate());

  registerHealth(app);
  registerExperimentRoutes(app);
  registerRunRoutes(app);
  registerQueueRoutes(app);
  registerKeyRoutes(app);
  registerWebhookRoutes(app);
  registerWorkerRoutes(app);
  registerSharedComponents(app);

  app.openapi(openApiRoute, (c) => c.json(openApiDocument(app), 200));
  registerReference(app, () => openApiDocument(app));
  registerUi(app, deps.ui);
  // The root is where a browser lands first: the dashboard. The Location is a path, so the browser
  // stays on the host name it came in on (127.0.0.1, localhost or a proxy's name alike).
  app.get("/", accessCheck("public"), (c) => c.redirect("/ui/", 302));

  app.notFound((c) =>
    problemResponse(c, new ProblemError("not_found", `no route ${c.req.method} ${c.req.path}`)),
  );
  app.onError((error, c) => {
    if (error instanceof ProblemError) return problemResponse(c, error);
    if (error instanceof HTTPException && error.status < 500) {
      return problemResponse(c, new ProblemError("malformed_request", error.message));
    }
    deps.onServerError?.(error, c);
    return problemResponse(c, new ProblemError("internal", "the server could not complete the request"));
  });
  return app;
}

export type App = ReturnType<typeof createApp>;

/** The OpenAPI 3.1 document, as served at /openapi.json and checked in as openapi/openapi.json. */
export function openApiDocument(app: OpenAPIHono<AppEnv>) {
  return splitSpecSchema(app.getOpenAPI31Document(OPENAPI_INFO));
}
