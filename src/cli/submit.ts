import { readFile } from "node:fs/promises";
import { type components, unwrap } from "../client/index.ts";
import { type ClientFlags, clientFor, UsageError } from "./client-options.ts";
import { runTable } from "./runs.ts";
import { watchRun } from "./watch.ts";

export interface SubmitFlags extends ClientFlags {
  readonly watch?: boolean;
  readonly progress: boolean;
  readonly json?: boolean;
}

/**
 * `autoprog submit <spec.json>`: creates the experiment (the server validates the spec and
 * answers 422 with every wrong field) and lists its runs; `--watch` then follows each run in
 * queue order. Exit code 1 when a watched run does not complete.
 */
export async function submitCommand(specPath: string, flags: SubmitFlags): Promise<void> {
  const spec = await readSpec(specPath);
  const client = clientFor(flags);
  const experiment = unwrap(await client.POST("/v1/experiments", { body: spec }));
  if (flags.json) console.log(JSON.stringify(experiment, null, 2));
  else {
    console.log(`experiment ${experiment.id} (${experiment.name}): ${experiment.runs.length} runs`);
    console.log(runTable(experiment.runs));
  }
  if (!flags.watch) return;
  for (const run of experiment.runs) {
    const state = await watchRun(client, run.id, flags);
    if (state !== "completed") process.exitCode = 1;
    if (state === "interrupted") return;
  }
}

async function readSpec(path: string): Promise<components["schemas"]["ExperimentSpec"]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    // The server checks the spec against its schema; here it only has to be JSON.
    return JSON.parse(text) as components["schemas"]["ExperimentSpec"];
  } catch (error) {
    throw new UsageError(`${path}: not JSON (${(error as Error).message})`);
  }
}
