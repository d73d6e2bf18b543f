/**
 * The results tables of README.md, docs/results.md and docs/service.md, generated from the
 * result summaries in bench/results/ (not a test): each table sits between `<!-- results:NAME -->`
 * and `<!-- /results:NAME -->` and is rewritten from its summary, so no number in those tables is
 * typed by hand. tests/bench/results-doc.test.ts fails when a committed table is stale.
 *
 *   npm run docs:results            # rewrite the tables
 *   npm run docs:results -- --check # exit 1 and name the stale tables
 *
 * Two kinds of summary, for result files that were never committed: per arm (each seed's top-1
 * and schedule, the arm's means of the rest; `expandSummary` gives each seed the arm's means) and
 * per run (`expandRunSummary`). Either becomes TableRuns, which bench/paper-table.ts and
 * bench/compare.ts turn into the tables.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { mean } from "../src/core/speedup.ts";
import { RUN_COLUMNS, runRows } from "./compare.ts";
import { armRows, paperTable } from "./paper-table.ts";
import { type Column, markdownTable, pct, plus, type TableRun } from "./table.ts";
import { apiTable, fleetTable } from "./throughput-table.ts";

const percent = z.number().min(0).max(100);
const schedule = z.string().regex(/^\d+@\d+( \d+@\d+)*$/, "depth@side per stage, space-separated");
const share = z.number().min(0).max(1).nullable();
const seconds = z.number().positive().nullable();

export const ResultSummarySchema = z.object({
  source: z.string().min(1),
  spec: z.string(),
  command: z.string(),
  arms: z
    .array(
      z.object({
        arm: z.string(),
        seeds: z.array(
          z.object({
            seed: z.number().int().min(0),
            top1: percent,
            schedule,
          }),
        ),
        timedSeeds: z.array(z.number().int().min(0)),
        bestTop1: percent,
        cpuSeconds: seconds,
        wallSeconds: seconds,
        /** Full-model FLOPs per step over the arm's mean, minus one. */
        flopsSpeedup: z.number().min(0),
        searchShare: share,
        supernetShare: share,
      }),
    )
    .min(1),
});
export type ResultSummary = z.infer<typeof ResultSummarySchema>;

export const RunSummarySchema = z.object({
  source: z.string().min(1),
  spec: z.string(),
  command: z.string(),
  runs: z
    .array(
      z.object({
        arm: z.string(),
        seed: z.number().int().min(0),
        top1: percent,
        wallSeconds: z.number().positive(),
        cpuSeconds: z.number().positive(),
        flopsSpeedup: z.number().min(0),
        searchSeconds: z.number().min(0),
        supernetSeconds: z.number().min(0),
        schedule,
      }),
    )
    .min(1),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

const parseSchedule = (text: string) =>
  text.split(" ").map((stage) => {
    const [depth, side] = stage.split("@").map(Number);
    return { depth: depth ?? 0, side: side ?? 0 };
  });

/**
 * One TableRun per recorded run. Best top-1 and training seconds were not recorded: they are
 * filled with top-1 and wall seconds, and the tables made from these runs do not show them.
 */
export function expandRunSummary(summary: RunSummary): TableRun[] {
  return summary.runs.map((run) => ({
    arm: run.arm,
    seed: run.seed,
    top1: run.top1 / 100,
    bestTop1: run.top1 / 100,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    trainSeconds: run.wallSeconds,
    searchSeconds: run.searchSeconds,
    supernetSeconds: run.supernetSeconds,
    flopsFull: 1,
    flopsPerStepMean: 1 / (1 + run.flopsSpeedup),
    schedule: parseSchedule(run.schedule),
  }));
}

/** One TableRun per seed, and the runs whose seconds were not measured under comparable load. */
export function expandSummary(summary: ResultSummary): { runs: TableRun[]; untimed: Set<TableRun> } {
  const runs: TableRun[] = [];
  const untimed = new Set<TableRun>();
  for (const arm of summary.arms) {
    for (const { seed, top1, schedule: stages } of arm.seeds) {
      const timed = arm.timedSeeds.includes(seed);
      if (timed && (arm.wallSeconds === null || arm.cpuSeconds === null))
        throw new Error(`${arm.arm} seed ${seed} is timed but the arm has no seconds`);
      const wall = timed ? (arm.wallSeconds ?? 0) : 0;
      const run: TableRun = {
        arm: arm.arm,
        seed,
        top1: top1 / 100,
        bestTop1: arm.bestTop1 / 100,
        wallSeconds: wall,
        cpuSeconds: timed ? (arm.cpuSeconds ?? 0) : 0,
        trainSeconds: wall,
        searchSeconds: (arm.searchShare ?? 0) * wall,
        supernetSeconds: (arm.supernetShare ?? 0) * wall,
        flopsFull: 1,
        flopsPerStepMean: 1 / (1 + arm.flopsSpeedup),
        schedule: parseSchedule(stages),
      };
      runs.push(run);
      if (!timed) untimed.add(run);
    }
  }
  return { runs, untimed };
}

const SUMMARY_COLUMNS: readonly Column<ReturnType<typeof armRows>[number]>[] = [
  ["arm", (r) => r.arm],
  ["seeds", (r) => String(r.seeds.length)],
  ["mean top-1 %", (r) => pct(mean(r.top1))],
  ["CPU speed-up", (r) => plus(r.speedups.cpu)],
  ["FLOPs speed-up", (r) => plus(r.speedups.flops)],
];

/** The per-run columns the Fashion-MNIST micro table shows (its summary has no best or train s). */
const MICRO_COLUMNS = RUN_COLUMNS.filter(
  ([title]) => !["best", "train s", "train+search speedup"].includes(title),
);

const paperRuns = (json: unknown) => expandSummary(ResultSummarySchema.parse(json));

/** Every generated table: the file it lives in, its block name, its summary and how it is made. */
export const BLOCKS: readonly {
  readonly file: string;
  readonly name: string;
  readonly summary: string;
  readonly render: (json: unknown) => string;
}[] = [
  {
    file: "docs/results.md",
    name: "paper-table",
    summary: "bench/results/fashion-mnist-paper.json",
    render: (json) => {
      const { runs, untimed } = paperRuns(json);
      return paperTable(runs, untimed);
    },
  },
  {
    file: "README.md",
    name: "paper-summary",
    summary: "bench/results/fashion-mnist-paper.json",
    render: (json) => {
      const { runs, untimed } = paperRuns(json);
      return markdownTable(SUMMARY_COLUMNS, armRows(runs, untimed));
    },
  },
  {
    file: "docs/results.md",
    name: "fashion-mnist-micro",
    summary: "bench/results/fashion-mnist-micro.json",
    render: (json) => markdownTable(MICRO_COLUMNS, runRows(expandRunSummary(RunSummarySchema.parse(json)))),
  },
  {
    file: "docs/service.md",
    name: "service-api",
    summary: "bench/results/service-api.json",
    render: apiTable,
  },
  {
    file: "docs/service.md",
    name: "service-fleet",
    summary: "bench/results/service-fleet.json",
    render: fleetTable,
  },
];

/**
 * Markdown tables laid out as the formatter (`biome format`, part of `npm test`'s lint) leaves
 * them: every cell padded to its column's widest, the separator row dashes of that width.
 */
export function alignTables(markdown: string): string {
  const lines = markdown.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    if (!lines[i]?.startsWith("|")) {
      out.push(lines[i] ?? "");
      i++;
      continue;
    }
    const rows: string[][] = [];
    for (; lines[i]?.startsWith("|"); i++) rows.push(splitRow(lines[i] ?? ""));
    const widths = rows[0]?.map((_, c) => Math.max(3, ...rows.map((row) => width(row[c] ?? "")))) ?? [];
    rows.forEach((row, r) => {
      const cells = widths.map((w, c) => (r === 1 ? "-".repeat(w) : pad(row[c] ?? "", w)));
      out.push(`| ${cells.join(" | ")} |`);
    });
  }
  return out.join("\n");
}

/** A table row's cells, trimmed; an escaped pipe (`\\|`) stays inside its cell. */
const splitRow = (line: string) =>
  line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
const width = (cell: string) => [...cell].length;
const pad = (cell: string, w: number) => cell + " ".repeat(w - width(cell));

/** `text` with the block `name` replaced by `content`; throws when the markers are missing. */
export function replaceBlock(text: string, name: string, content: string): string {
  const open = `<!-- results:${name} -->`;
  const close = `<!-- /results:${name} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) throw new Error(`no ${open} … ${close} block`);
  return `${text.slice(0, start + open.length)}\n${content}\n${text.slice(end)}`;
}

/** Each file that holds a block, as committed and as generated. */
export async function generatedFiles(
  root: string,
): Promise<{ file: string; committed: string; generated: string }[]> {
  const files = [...new Set(BLOCKS.map((b) => b.file))];
  return Promise.all(
    files.map(async (file) => {
      const committed = await readFile(join(root, file), "utf8");
      let generated = committed;
      for (const block of BLOCKS.filter((b) => b.file === file)) {
        const summary: unknown = JSON.parse(await readFile(join(root, block.summary), "utf8"));
        generated = replaceBlock(generated, block.name, alignTables(block.render(summary)));
      }
      return { file, committed, generated };
    }),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const check = process.argv.includes("--check");
  const stale = (await generatedFiles(root)).filter((f) => f.generated !== f.committed);
  for (const { file, generated } of stale) {
    if (check) console.error(`${file}: results tables are stale (npm run docs:results)`);
    else await writeFile(join(root, file), generated);
  }
  if (check && stale.length > 0) process.exit(1);
  if (!check) console.log(stale.length ? `rewrote ${stale.map((f) => f.file).join(", ")}` : "up to date");
}
