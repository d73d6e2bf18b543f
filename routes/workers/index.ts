import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerCheckpointRoutes } from "./checkpoints.ts";
import { registerPostRunEvents } from "./events.ts";
import { registerHeartbeat } from "./heartbeat.ts";
import { registerLeaseRun } from "./lease.ts";
import { registerRelease } from "./release.ts";

/** The pull-worker protocol: lease, heartbeat, hand back, report events, move checkpoints. */
export function registerWorkerRoutes(app: OpenAPIHono<AppEnv>) {
  registerLeaseRun(app);
  registerHeartbeat(app);
  registerRelease(app);
  registerPostRunEvents(app);
  registerCheckpointRoutes(app);
}
