import type { Hook } from "@hono/zod-openapi";
import { fieldErrors } from "../../src/core/spec.ts";
import type { AppEnv } from "../../src/services.ts";
import { type FieldError, ProblemError } from "./problem.ts";

const LOCATIONS: Record<string, FieldError["location"]> = {
  json: "body",
  query: "query",
  param: "path",
  header: "header",
};

/** Every zod failure of a route becomes one 422 problem listing each bad field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const location = LOCATIONS[result.target] ?? "body";
  throw new ProblemError(
    "validation_failed",
    `the ${location} is not valid`,
    fieldErrors(result.error).map((e) => ({ location, ...e })),
  );
};
