/**
 * docs/service.md's Throughput tables, made from the result files of `npm run bench:api -- --out`
 * and `npm run bench:fleet -- --out` (bench/results/service-api.json, service-fleet.json) by
 * `npm run docs:results` (bench/results-doc.ts). Each target is issue 28's; whether it is met is
 * decided here from the numbers, never typed.
 */
import { cpus } from "node:os";
import { z } from "zod";
import { type Column, markdownTable } from "./table.ts";

const Load = z.object({
  requests: z.number().int().positive(),
  requestsPerSecond: z.number().positive(),
  p50Ms: z.number().nonnegative(),
  p90Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
  maxMs: z.number().nonnegative(),
  non2xx: z.literal(0),
  errors: z.literal(0),
});

const FanOut = z.object({
  subscribers: z.number().int().positive(),
  runs: z.number().int().positive(),
  eventsPerRun: z.number().int().positive(),
  eventsPerSecondPerRun: z.number().positive(),
  everyEventOnceInOrder: z.boolean(),
  p50Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
});

const Machine = z.object({ cpus: z.number().int().positive(), cpu: z.string(), node: z.string() });

/** What every result file starts with: when, by which command, on what machine. */
export const resultStamp = (command: string) => ({
  date: new Date().toISOString().slice(0, 10),
  command,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
});

export const ApiResultSchema = z.object({
  date: z.iso.date(),
  command: z.string(),
  machine: Machine,
  inFlight: z.number().int().positive(),
  gets: z.object({
    bareNode: Load,
    bareHono: Load,
    health: Load,
    /** A queued run, and a completed one whose row holds its whole result (finishedResultBytes of JSON). */
    run: Load,
    finishedRun: Load,
    finishedResultBytes: z.number().int().positive(),
    /** The queued run's GET on a server that keeps no answers (AUTOPROG_RUN_CACHE_SIZE=0). */
    uncachedRun: Load,
  }),
  ingestion: z.object({
    events: z.number().int().positive(),
    runs: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    metricValuesPerEvent: z.number().int().positive(),
    eventsPerSecond: z.number().positive(),
    eventsPerCpuSecond: z.number().positive(),
  }),
  sseOneRun: z.array(FanOut).min(1),
  sseAcrossRuns: FanOut,
});

const Route = z.object({
  requests: z.number().int().nonnegative(),
  p50Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
  errors: z.record(z.string(), z.number().int()),
});

/** The parts of bench/fleet.ts's summary the table shows. */
export const FleetResultSchema = z.object({
  date: z.iso.date(),
  command: z.string(),
  machine: Machine,
  workers: z.number().int().positive(),
  watchers: z.number().int().positive(),
  watchersConnected: z.number().int().nonnegative(),
  seconds: z.number().positive(),
  checkpointBytes: z.number().int().positive(),
  eventsAccepted: z.number().int().nonnegative(),
  eventsDuplicate: z.number().int().nonnegative(),
  lostLeases: z.number().int().nonnegative(),
  leaseDenied: z.number().int().nonnegative(),
  watcherGaps: z.number().int().nonnegative(),
  watcherDuplicates: z.number().int().nonnegative(),
  watcherFramesReceived: z.number().int().nonnegative(),
  runsWhoseLogDiffers: z.number().int().nonnegative(),
  checkpointsUploaded: z.number().int().nonnegative(),
  sseDeliveryP50Ms: z.number().nonnegative(),
  sseDeliveryP99Ms: z.number().nonnegative(),
  serverPeakRssMiB: z.number().positive(),
  perRoute: z.record(z.string(), Route),
});

/** Issue 28's targets. */
export const TARGETS = {
  /** /healthz's throughput over the authenticated GET's, at most. */
  getThroughputRatio: 1.5,
  getP99Ms: 10,
  ingestionEventsPerSecond: 20_000,
  sseSubscribersOneRun: 5_000,
  sseP99Ms: 250,
  heartbeatP99Ms: 50,
} as const;

interface Row {
  readonly measurement: string;
  readonly result: string;
  readonly target: string;
}

const COLUMNS: readonly Column<Row>[] = [
  ["measurement", (r) => r.measurement],
  ["result", (r) => r.result],
  ["target", (r) => r.target],
];

const count = (x: number) => Math.round(x).toLocaleString("en-US");
const ms = (x: number) => `${Number(x.toPrecision(3))} ms`;
const mark = (met: boolean) => (met ? "✓" : "✗");
const load = (r: z.infer<typeof Load>) =>
  `${count(r.requestsPerSecond)} req/s, p50 ${ms(r.p50Ms)}, p90 ${ms(r.p90Ms)}, p99 ${ms(r.p99Ms)}`;

function sseTarget(r: z.infer<typeof FanOut>): string {
  return `p99 ≤ ${TARGETS.sseP99Ms} ms, every event once ${mark(r.everyEventOnceInOrder && r.p99Ms <= TARGETS.sseP99Ms)}`;
}

export function apiTable(json: unknown): string {
  const r = ApiResultSchema.parse(json);
  const { bareNode, bareHono, health, run, finishedRun, finishedResultBytes, uncachedRun } = r.gets;
  const ratio = (get: z.infer<typeof Load>) => health.requestsPerSecond / get.requestsPerSecond;
  const getTarget = (get: z.infer<typeof Load>) =>
    `within ${TARGETS.getThroughputRatio}× ${mark(ratio(get) <= TARGETS.getThroughputRatio)}; ` +
    `p99 ≤ ${TARGETS.getP99Ms} ms ${mark(get.p99Ms <= TARGETS.getP99Ms)}`;
  const flight = `${r.inFlight} in flight`;
  const largest = r.sseOneRun.at(-1) as z.infer<typeof FanOut>;
  const rows: Row[] = [
    { measurement: `floor: bare \`node:http\` server, ${flight}`, result: load(bareNode), target: "—" },
    {
      measurement: `floor: bare Hono app on @hono/node-server, ${flight}`,
      result: load(bareHono),
      target: "—",
    },
    { measurement: `\`GET /healthz\`, ${flight}`, result: load(health), target: "—" },
    {
      measurement: `authenticated \`GET /v1/runs/{id}\` of a queued run (its answer kept after the first), ${flight}`,
      result: `${load(run)}; \`/healthz\` is ${ratio(run).toFixed(2)}× it`,
      target: getTarget(run),
    },
    {
      measurement:
        `authenticated \`GET /v1/runs/{id}\` of a completed run ` +
        `(${count(finishedResultBytes / 1024)} KiB of result in its row), ${flight}`,
      result: `${load(finishedRun)}; \`/healthz\` is ${ratio(finishedRun).toFixed(2)}× it`,
      target: getTarget(finishedRun),
    },
    {
      measurement:
        `the same GET of the queued run with no answer kept (\`AUTOPROG_RUN_CACHE_SIZE=0\`: ` +
        `every GET reads the row, as the first after a change of the run does), ${flight}`,
      result: `${load(uncachedRun)}; \`/healthz\` is ${ratio(uncachedRun).toFixed(2)}× it`,
      target: "— (the targets are the GET's above)",
    },
    {
      measurement:
        `event ingestion, batch path (${r.ingestion.runs} writers, batches of ${r.ingestion.batchSize} ` +
        `\`epoch.completed\`, each with its metric row of ${r.ingestion.metricValuesPerEvent} values and its run update)`,
      result: `${count(r.ingestion.eventsPerSecond)} events/s (${count(r.ingestion.eventsPerCpuSecond)} per CPU-second)`,
      target: `≥ ${count(TARGETS.ingestionEventsPerSecond)} ${mark(r.ingestion.eventsPerSecond >= TARGETS.ingestionEventsPerSecond)}`,
    },
    {
      measurement: `SSE, one run at ${largest.eventsPerSecondPerRun} events/s: ${r.sseOneRun.map((s) => count(s.subscribers)).join(" / ")} subscribers`,
      result:
        `p99 ${r.sseOneRun.map((s) => ms(s.p99Ms)).join(" / ")}; every event once and in order: ` +
        (r.sseOneRun.every((s) => s.everyEventOnceInOrder) ? "yes" : "no"),
      target:
        largest.subscribers >= TARGETS.sseSubscribersOneRun
          ? `${count(TARGETS.sseSubscribersOneRun)} at ${sseTarget(largest)}`
          : `${count(TARGETS.sseSubscribersOneRun)} subscribers not reached ✗`,
    },
    {
      measurement: `SSE, ${count(r.sseAcrossRuns.subscribers)} subscribers across ${r.sseAcrossRuns.runs} runs at ${r.sseAcrossRuns.eventsPerSecondPerRun} events/s each`,
      result: `p50 ${ms(r.sseAcrossRuns.p50Ms)}, p99 ${ms(r.sseAcrossRuns.p99Ms)}`,
      target: sseTarget(r.sseAcrossRuns),
    },
  ];
  return `${caption(r)}\n\n${markdownTable(COLUMNS, rows)}`;
}

export function fleetTable(json: unknown): string {
  const r = FleetResultSchema.parse(json);
  const route = (name: string) => r.perRoute[name];
  const errors = Object.values(r.perRoute).flatMap((x) => Object.entries(x.errors));
  const errorText = errors.length === 0 ? "none" : errors.map(([what, n]) => `${n} × ${what}`).join(", ");
  const heartbeat = route("POST /v1/workers/heartbeat");
  const rows: Row[] = [
    {
      measurement: "leases lost (not caused by the test)",
      result: `${r.lostLeases} (${r.leaseDenied} denied)`,
      target: `0 ${mark(r.lostLeases === 0)}`,
    },
    {
      // A lost or twice-stored event leaves a run's log unlike its worker's; a lost or repeated
      // frame is a watcher's gap or duplicate. A replay the server refused is neither.
      measurement: "events stored, lost, duplicated",
      result:
        `${count(r.eventsAccepted)} stored (${count(r.eventsDuplicate)} replays refused as already stored); ` +
        `runs whose log differs from their worker's: ${r.runsWhoseLogDiffers}; ` +
        `watchers' gaps: ${r.watcherGaps}, duplicates: ${r.watcherDuplicates}`,
      target: `0 lost, 0 duplicated ${mark(r.runsWhoseLogDiffers === 0 && r.watcherGaps === 0 && r.watcherDuplicates === 0)}`,
    },
    ...Object.entries(r.perRoute).map(([name, x]) => ({
      measurement: `\`${name}\` (${count(x.requests)} requests)`,
      result: `p50 ${ms(x.p50Ms)}, p99 ${ms(x.p99Ms)}`,
      target:
        x === heartbeat
          ? `p99 ≤ ${TARGETS.heartbeatP99Ms} ms ${mark(x.p99Ms <= TARGETS.heartbeatP99Ms)}`
          : "—",
    })),
    {
      measurement: "SSE delivery to watchers",
      result: `p50 ${ms(r.sseDeliveryP50Ms)}, p99 ${ms(r.sseDeliveryP99Ms)}`,
      target: "—",
    },
    { measurement: "client-side request errors", result: errorText, target: "—" },
    { measurement: "server peak RSS", result: `${r.serverPeakRssMiB} MiB`, target: "—" },
  ];
  const setup =
    `${count(r.workers)} workers and ${count(r.watchers)} watchers (${count(r.watchersConnected)} connected) for ` +
    `${r.seconds.toFixed(0)} s, ${(r.checkpointBytes / 2 ** 20).toFixed(0)} MiB checkpoints (${count(r.checkpointsUploaded)} uploaded).`;
  return `${caption(r)} ${setup}\n\n${markdownTable(COLUMNS, rows)}`;
}

const caption = (r: { date: string; command: string; machine: z.infer<typeof Machine> }) =>
  `\`${r.command}\` on ${r.date}: ${r.machine.cpus} × ${r.machine.cpu}, Node ${r.machine.node}.`;
