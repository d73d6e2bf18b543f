/** The architecture description is pure data and lives in core; the model layer re-exports it. */
export * from "../core/model-config.ts";
