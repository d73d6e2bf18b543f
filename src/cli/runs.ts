import type { AutoprogClient, components } from "../client/index.ts";
import { unwrap } from "../client/index.ts";
import { type ClientFlags, clientFor } from "./client-options.ts";
import { percent } from "./event-lines.ts";

/** `autoprog runs list|show|cancel`: the run resources of the API, one request each. */
type Run = components["schemas"]["Run"];

interface ListFlags extends ClientFlags {
  readonly experiment?: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly json?: boolean;
}

/**
 * The API lists runs per experiment (`GET /v1/experiments/{id}/runs`, keyset pages). With
 * `--experiment` that is one page of its runs; without, the runs of one page of the newest
 * experiments (`--limit` and `--cursor` then page the experiments).
 */
export async function listRunsCommand(flags: ListFlags): Promise<void> {
  const client = clientFor(flags);
  const page = flags.experiment
    ? await experimentRuns(client, flags.experiment, flags.limit, flags.cursor)
    : await newestRuns(client, flags.limit, flags.cursor);
  if (flags.json) {
    console.log(JSON.stringify(page, null, 2));
    return;
  }
  if (page.items.length === 0) console.log("no runs");
  else console.log(runTable(page.items));
  if (page.nextCursor) console.error(`more: add --cursor ${page.nextCursor}`);
}

async function experimentRuns(client: AutoprogClient, id: string, limit?: number, cursor?: string) {
  return unwrap(
    await client.GET("/v1/experiments/{id}/runs", {
      params: { path: { id }, query: { ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) } },
    }),
  );
}

async function newestRuns(client: AutoprogClient, limit?: number, cursor?: string) {
  const experiments = unwrap(
    await client.GET("/v1/experiments", {
      params: { query: { ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) } },
    }),
  );
  const items: Run[] = [];
  for (const experiment of experiments.items) {
    let next: string | undefined;
    do {
      const page = await experimentRuns(client, experiment.id, 500, next);
      items.push(...page.items);
      next = page.nextCursor ?? undefined;
    } while (next);
  }
  return { items, nextCursor: experiments.nextCursor };
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

const top1Text = (x: number | null) => (x === null ? "-" : percent(x));

/** Fixed-width columns, widest cell per column. */
export function runTable(runs: readonly Run[]): string {
  const rows = [
    ["RUN", "EXPERIMENT", "ARM", "SEED", "STATE", "EPOCHS", "TOP-1"],
    ...runs.map((r) => [
      r.id,
      r.experimentId,
      r.label,
      String(r.seed),
      r.state,
      `${r.epochsCompleted}/${r.epochs}`,
      top1Text(r.top1),
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

function runDetails(run: Run): string {
  const lines: [string, string | number | null][] = [
    ["run", run.id],
    ["experiment", run.experimentId],
    ["arm", run.label === run.arm ? run.arm : `${run.label} (${run.arm})`],
    ["seed", run.seed],
    ["state", run.cancelRequested && run.state === "running" ? "running (cancel requested)" : run.state],
    ["attempt", run.attempt],
    [
      "backend",
      run.backend ? `${run.backend.name} on ${run.backend.device}` : `${run.backendRequested} (requested)`,
    ],
    ["epochs", `${run.epochsCompleted}/${run.epochs}`],
    ["checkpoint", run.checkpointEpoch === null ? null : `epoch ${run.checkpointEpoch}`],
    ["top-1", run.top1 === null ? null : `${top1Text(run.top1)} (best ${top1Text(run.bestTop1)})`],
    ["wall", run.wallSeconds === null ? null : `${run.wallSeconds.toFixed(1)} s`],
    ["failure", run.failure ? `${run.failure.reason}: ${run.failure.message}` : null],
    ["fork of", run.forkOf ? `${run.forkOf.runId} after epoch ${run.forkOf.epoch}` : null],
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
