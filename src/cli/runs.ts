import type { components } from "../client/index.ts";
import { unwrap } from "../client/index.ts";
import { afterEpochs, lastEpochCovered } from "../core/vocabulary.ts";
import { type ClientFlags, clientFor } from "./client-options.ts";
import { percent } from "./event-lines.ts";

/** `autoprog runs list|show|tag|cancel|pause|resume`: the run resources of the API, one request each. */
type Run = components["schemas"]["Run"];

interface ListFlags extends ClientFlags {
  readonly experiment?: string;
  readonly state?: string;
  readonly arm?: string;
  readonly tag?: string;
  readonly name?: string;
  readonly search?: string;
  readonly since?: string;
  readonly until?: string;
  readonly oldest?: boolean;
  readonly limit?: number;
  readonly cursor?: string;
  readonly json?: boolean;
}

/**
 * One page of the project's runs across experiments (`GET /v1/runs`), newest first, with the
 * API's filters: each list flag takes comma-separated values, as the query parameter does.
 */
export async function listRunsCommand(flags: ListFlags): Promise<void> {
  const client = clientFor(flags);
  const query = {
    ...(flags.experiment ? { experiment: flags.experiment } : {}),
    ...(flags.state ? { state: flags.state } : {}),
    ...(flags.arm ? { arm: flags.arm } : {}),
    ...(flags.tag ? { tag: flags.tag } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.search ? { q: flags.search } : {}),
    ...(flags.since ? { since: flags.since } : {}),
    ...(flags.until ? { until: flags.until } : {}),
    ...(flags.oldest ? { sort: "createdAt" as const } : {}),
    ...(flags.limit ? { limit: flags.limit } : {}),
    ...(flags.cursor ? { cursor: flags.cursor } : {}),
  };
  const page = unwrap(await client.GET("/v1/runs", { params: { query } }));
  if (flags.json) {
    console.log(JSON.stringify(page, null, 2));
    return;
  }
  if (page.items.length === 0) console.log("no runs");
  else console.log(runTable(page.items));
  if (page.nextCursor) console.error(`more: add --cursor ${page.nextCursor}`);
}

/** `autoprog runs tag <run> [tags...]` and `--note`: replaces the run's tags and/or note. */
export async function annotateRunCommand(
  id: string,
  tags: string[],
  flags: ClientFlags & { note?: string; clearNote?: boolean; json?: boolean },
): Promise<void> {
  const body = {
    ...(tags.length > 0 || (flags.note === undefined && !flags.clearNote) ? { tags } : {}),
    ...(flags.note !== undefined ? { note: flags.note } : flags.clearNote ? { note: null } : {}),
  };
  const run = unwrap(await clientFor(flags).PATCH("/v1/runs/{id}", { params: { path: { id } }, body }));
  if (flags.json) console.log(JSON.stringify(run, null, 2));
  else console.log(runDetails(run));
}

export async function showRunCommand(id: string, flags: ClientFlags & { json?: boolean }): Promise<void> {
  const run = unwrap(await clientFor(flags).GET("/v1/runs/{id}", { params: { path: { id } } }));
  if (flags.json) console.log(JSON.stringify(run, null, 2));
  else console.log(runDetails(run));
}

export async function cancelRunCommand(id: string, flags: ClientFlags & { json?: boolean }): Promise<void> {
  const run = unwrap(await clientFor(flags).POST("/v1/runs/{id}/cancel", { params: { path: { id } } }));
  if (flags.json) console.log(JSON.stringify(run, null, 2));
  else console.log(`${run.id}: cancel requested (${run.state}); it stops at the next step boundary`);
}

export async function pauseRunCommand(id: string, flags: ClientFlags & { json?: boolean }): Promise<void> {
  const run = unwrap(await clientFor(flags).POST("/v1/runs/{id}/pause", { params: { path: { id } } }));
  if (flags.json) console.log(JSON.stringify(run, null, 2));
  else if (run.state === "paused")
    console.log(`${run.id}: paused; \`autoprog runs resume ${run.id}\` goes on`);
  else console.log(`${run.id}: pause requested; it stops at the next step boundary with a checkpoint there`);
}

export async function resumeRunCommand(id: string, flags: ClientFlags & { json?: boolean }): Promise<void> {
  const run = unwrap(await clientFor(flags).POST("/v1/runs/{id}/resume", { params: { path: { id } } }));
  if (flags.json) console.log(JSON.stringify(run, null, 2));
  else console.log(`${run.id}: resumed (${run.state}); it continues from the checkpoint of its pause`);
}

const top1Text = (x: number | null) => (x === null ? "-" : percent(x));

/** Fixed-width columns, widest cell per column. */
export function runTable(runs: readonly Run[]): string {
  const rows = [
    ["RUN", "EXPERIMENT", "ARM", "SEED", "STATE", "EPOCHS", "TOP-1", "TAGS"],
    ...runs.map((r) => [
      r.id,
      r.experimentId,
      r.label,
      String(r.seed),
      r.state,
      `${r.epochsCompleted}/${r.epochs}`,
      top1Text(r.top1),
      r.tags.join(","),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function stateLine(run: Run): string {
  if (run.state !== "running") return run.state;
  if (run.cancelRequested) return "running (cancel requested)";
  return run.pauseRequested ? "running (pause requested)" : "running";
}

function runDetails(run: Run): string {
  const lines: [string, string | number | null][] = [
    ["run", run.id],
    ["experiment", run.experimentId],
    ["arm", run.label === run.arm ? run.arm : `${run.label} (${run.arm})`],
    ["seed", run.seed],
    ["state", stateLine(run)],
    ["attempt", run.attempt],
    [
      "backend",
      run.backend ? `${run.backend.name} on ${run.backend.device}` : `${run.backendRequested} (requested)`,
    ],
    ["epochs", `${run.epochsCompleted}/${run.epochs}`],
    // The API counts the epochs a checkpoint covers; people read the 0-based epoch it followed.
    [
      "checkpoint",
      run.checkpointEpoch === null ? null : `after epoch ${lastEpochCovered(run.checkpointEpoch)}`,
    ],
    ["top-1", run.top1 === null ? null : `${top1Text(run.top1)} (best ${top1Text(run.bestTop1)})`],
    ["wall", run.wallSeconds === null ? null : `${run.wallSeconds.toFixed(1)} s`],
    // A cancelled run's state says so; its message is the why, not a failure.
    [
      run.failure?.reason === "cancelled" ? "why" : "failure",
      run.failure
        ? run.failure.reason === "cancelled"
          ? run.failure.message
          : `${run.failure.reason}: ${run.failure.message}`
        : null,
    ],
    ["tags", run.tags.length > 0 ? run.tags.join(", ") : null],
    ["note", run.note],
    ["fork of", run.forkOf ? `${run.forkOf.runId} ${afterEpochs(run.forkOf.epoch)}` : null],
    ["events", run.lastSeq],
    ["created", run.createdAt],
    ["started", run.startedAt],
    ["finished", run.finishedAt],
  ];
  return lines
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${`${name}:`.padEnd(12)}${value}`)
    .join("\n");
}
