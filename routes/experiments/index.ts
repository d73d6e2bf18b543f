import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerAnnotateExperiment } from "./annotate.ts";
import { registerCreateExperiment } from "./create.ts";
import { registerDeleteExperiment } from "./delete.ts";
import { registerGetExperiment } from "./get.ts";
import { registerListExperiments } from "./list.ts";
import { registerReport } from "./report.ts";
import { registerListExperimentRuns } from "./runs.ts";

export function registerExperimentRoutes(app: OpenAPIHono<AppEnv>) {
  registerCreateExperiment(app);
  registerListExperiments(app);
  registerGetExperiment(app);
  registerAnnotateExperiment(app);
  registerReport(app);
  registerListExperimentRuns(app);
  registerDeleteExperiment(app);
}
