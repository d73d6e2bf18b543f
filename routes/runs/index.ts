import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { registerAnnotateRun } from "./annotate.ts";
import { registerCancelRun } from "./cancel.ts";
import { registerListCheckpoints } from "./checkpoints.ts";
import { registerRunEvents } from "./events.ts";
import { registerForkRun } from "./fork.ts";
import { registerGetRun } from "./get.ts";
import { registerListRuns } from "./list.ts";
import { registerListMetricKeys, registerListMetrics } from "./metrics.ts";
import { registerGetModel } from "./model.ts";
import { registerPauseRun } from "./pause.ts";
import { registerResumeRun } from "./resume.ts";
import { registerListCandidates } from "./search.ts";
import { registerListStages } from "./stages.ts";
import { registerStreamToken } from "./stream-token.ts";

export function registerRunRoutes(app: OpenAPIHono<AppEnv>) {
  registerListRuns(app);
  registerGetRun(app);
  registerAnnotateRun(app);
  registerListStages(app);
  registerListCandidates(app);
  registerListMetrics(app);
  registerListMetricKeys(app);
  registerListCheckpoints(app);
  registerGetModel(app);
  registerCancelRun(app);
  registerPauseRun(app);
  registerResumeRun(app);
  registerForkRun(app);
  registerRunEvents(app);
  registerStreamToken(app);
}
