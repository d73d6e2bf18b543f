import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { DEFAULT_PROJECT } from "../db/schema.ts";
import { validationHook } from "../routes/common/hook.ts";
import { ProblemError, problemResponse } from "../routes/common/problem.ts";
import { registerExperimentRoutes } from "../routes/experiments/index.ts";
import { registerHealth } from "../routes/health/index.ts";
import { registerRunRoutes } from "../routes/runs/index.ts";
import { registerWebhookRoutes } from "../routes/webhooks/index.ts";
import type { AppEnv, Services } from "./services.ts";

export interface AppDeps {
  /** The services of one request: a fixed set on Node, built from bindings on Workers. */
  readonly services: Services | ((c: Context<AppEnv>) => Services);
  /** Called with every 5xx (the only errors worth a log line). */
  readonly onServerError?: (error: unknown, c: Context<AppEnv>) => void;
}

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "autoprog",
    version: "0.1.0",
    description:
      "Train Vision Transformers with automated progressive learning (AutoProg): submit an experiment " +
      "(arms × seeds), follow each run's events, read the per-arm report.",
  },
} as const;

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const resolve = typeof deps.services === "function" ? deps.services : () => deps.services as Services;

  app.use(requestId());
  app.use(async (c, next) => {
    c.set("services", resolve(c));
    // One project until API keys say which one a request belongs to.
    c.set("projectId", DEFAULT_PROJECT);
    await next();
  });

  registerHealth(app);
  registerExperimentRoutes(app);
  registerRunRoutes(app);
  registerWebhookRoutes(app);

  app.doc31("/openapi.json", OPENAPI_INFO);
  app.get("/reference", Scalar({ url: "/openapi.json", pageTitle: "autoprog API" }));

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
export function openApiDocument(app: App) {
  return app.getOpenAPI31Document(OPENAPI_INFO);
}
