import { Command, Option } from "commander";
import { BACKEND_PREFERENCES } from "../core/spec.ts";
import { reportErrors, withClientOptions } from "./client-options.ts";
import { downloadModelCommand, listCheckpointsCommand } from "./download.ts";
import { forkRunCommand } from "./fork.ts";
import { keysCommand } from "./keys.ts";
import {
  annotateRunCommand,
  cancelRunCommand,
  listRunsCommand,
  pauseRunCommand,
  resumeRunCommand,
  showRunCommand,
} from "./runs.ts";
import { submitCommand } from "./submit.ts";
import type { TrainCommandOptions } from "./train.ts";
import { watchCommand } from "./watch.ts";
import { workerCommand } from "./worker.ts";

const program = new Command()
  .name("autoprog")
  .description("Train Vision Transformers faster by growing them while they train (AutoProg).");

program
  .command("train")
  .description("train one arm of an experiment spec locally (no server) and write the result JSON")
  .argument("<spec>", "experiment spec (JSON file)")
  .option("--arm <name>", "arm to run (default: the spec's first)")
  .option("--seed <n>", "seed to run (default: the spec's first)", (v) => Number.parseInt(v, 10))
  .option("--out <file>", "write the result JSON here")
  .option("--save-model <path>", "save the final model as <path>.json + <path>.bin")
  .option("--checkpoints <dir>", "checkpoint folder; an existing checkpoint there is resumed")
  .addOption(
    new Option(
      "--backend <name>",
      "tfjs backend (or AUTOPROG_BACKEND); auto skips software WebGPU adapters, webgpu forces one",
    ).choices([...BACKEND_PREFERENCES]),
  )
  .option("--workers <n>", "threads sharing each step, data parallel (or AUTOPROG_WORKERS; default 1)", (v) =>
    Number.parseInt(v, 10),
  )
  .option("--no-progress", "plain log lines instead of a progress bar")
  // Loaded here so the client commands never load tfjs.
  .action(async (spec: string, options: TrainCommandOptions) =>
    (await import("./train.ts")).trainCommand(spec, options),
  );

program
  .command("serve")
  .description(
    "serve the HTTP API and train queued runs in trainer processes (settings: AUTOPROG_* variables)",
  )
  .option("--host <host>", "listen address (or AUTOPROG_HOST; default 127.0.0.1)")
  .option("--port <n>", "port, 0 for any free one (or AUTOPROG_PORT; default 8787)")
  .option("--data-dir <dir>", "database, checkpoints and caches (or AUTOPROG_DATA_DIR; default ./data)")
  .option("--concurrency <n>", "runs trained at once (or AUTOPROG_CONCURRENCY; default 1)")
  .action(async (options: { host?: string; port?: string; dataDir?: string; concurrency?: string }) => {
    // Loaded here so `autoprog train` never opens a database or an HTTP stack.
    const [{ loadSettings }, { serveUntilSignalled }] = await Promise.all([
      import("../env.ts"),
      import("../node.ts"),
    ]);
    const flags = {
      AUTOPROG_HOST: options.host,
      AUTOPROG_PORT: options.port,
      AUTOPROG_DATA_DIR: options.dataDir,
      AUTOPROG_CONCURRENCY: options.concurrency,
    };
    const defined = Object.entries(flags).filter(([, value]) => value !== undefined);
    await serveUntilSignalled(loadSettings({ ...process.env, ...Object.fromEntries(defined) }));
  });

program.addCommand(keysCommand());
program.addCommand(workerCommand());
// The client commands talk to a server through autoprog/client (src/client), never to its code.
const positiveInt = (v: string) => {
  const n = Number.parseInt(v, 10);
  if (!(n > 0)) throw new Error(`not a positive integer: ${v}`);
  return n;
};
const nonNegativeInt = (v: string) => {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`not a whole number: ${v}`);
  return n;
};

withClientOptions(
  program
    .command("submit")
    .description("create an experiment from a spec on the server and list its runs")
    .argument("<spec>", "experiment spec (JSON file)")
    .option("--watch", "follow each run to its end (exit code 1 if one does not complete)")
    .option("--no-progress", "with --watch: plain lines instead of a progress bar")
    .option("--json", "print the created experiment as JSON"),
).action(reportErrors(submitCommand));

withClientOptions(
  program
    .command("watch")
    .description(
      "follow a run's events to its end: epochs, growth, search, result (exit code 1 unless it completes)",
    )
    .argument("<run>", "run id")
    .option("--no-progress", "plain lines instead of a progress bar"),
).action(reportErrors(watchCommand));

const runs = program
  .command("runs")
  .description("list, show, tag, cancel, pause and resume runs on a server");
withClientOptions(
  runs
    .command("list")
    .description("the project's runs across experiments, newest first (list flags take a,b,c)")
    .option("--experiment <ids>", "only these experiments' runs")
    .option(
      "--state <states>",
      "only runs in these states (queued, running, paused, completed, failed, cancelled)",
    )
    .option("--arm <arms>", "only these arms (kind or name)")
    .option("--tag <tags>", "only runs with every one of these tags")
    .option("--name <text>", "only runs whose experiment's name holds this")
    .option("--search <text>", "experiment name, arm name or note holds this")
    .option("--since <time>", "created at or after (RFC 3339)")
    .option("--until <time>", "created before (RFC 3339)")
    .option("--oldest", "oldest first")
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>", "the next page (printed after a full page)")
    .option("--json", "print the page as JSON"),
).action(reportErrors(listRunsCommand));
withClientOptions(
  runs
    .command("tag")
    .description("replace a run's tags (none given: remove them), and/or set its note")
    .argument("<run>", "run id")
    .argument("[tags...]", "the run's tags")
    .option("--note <text>", "set the run's note")
    .option("--clear-note", "remove the run's note")
    .option("--json", "print the run as JSON"),
).action(reportErrors(annotateRunCommand));
withClientOptions(
  runs.command("show").description("one run").argument("<run>", "run id").option("--json", "print JSON"),
).action(reportErrors(showRunCommand));
withClientOptions(
  runs
    .command("cancel")
    .description("cancel a queued, running or paused run (it stops at the next step boundary)")
    .argument("<run>", "run id")
    .option("--json", "print the run as JSON"),
).action(reportErrors(cancelRunCommand));
withClientOptions(
  runs
    .command("pause")
    .description("pause a queued or running run: it stops at the next step boundary with a checkpoint there")
    .argument("<run>", "run id")
    .option("--json", "print the run as JSON"),
).action(reportErrors(pauseRunCommand));
withClientOptions(
  runs
    .command("resume")
    .description("queue a paused run again: it continues exactly where it stopped")
    .argument("<run>", "run id")
    .option("--json", "print the run as JSON"),
).action(reportErrors(resumeRunCommand));
withClientOptions(
  runs
    .command("download")
    .description("download a run's trained weights as safetensors (docs/model-files.md)")
    .argument("<run>", "run id")
    .option("--weights <weights>", "online (default) or ema-<name>, an EMA copy of the spec's training.ema")
    .option(
      "--epoch <n>",
      "a checkpoint the server holds (runs checkpoints); default the newest",
      nonNegativeInt,
    )
    .option("-o, --output <file>", "where to write it (default: the name the server gives)"),
).action(reportErrors(downloadModelCommand));
withClientOptions(
  runs
    .command("checkpoints")
    .description("the checkpoints the server holds for a run")
    .argument("<run>", "run id")
    .option("--json", "print JSON"),
).action(reportErrors(listCheckpointsCommand));
withClientOptions(
  runs
    .command("fork")
    .description(
      "a new run of the experiment from one of the run's checkpoints, with its own arm or training",
    )
    .argument("<run>", "run id")
    .option(
      "--from-stage <k>",
      "start where the run's stage k began (0-based, as its stages list them)",
      positiveInt,
    )
    .option("--from-epoch <n>", "start from its checkpoint after n epochs", positiveInt)
    .option(
      "--arm <json>",
      'the fork\'s arm, e.g. \'{"arm":"prog","label":"prog-from-2"}\'; default the run\'s',
    )
    .option("--training <json>", "fields of the spec's training to change, e.g. '{\"epochs\":12}'")
    .option("--json", "print the fork as JSON"),
).action(reportErrors(forkRunCommand));

await program.parseAsync(process.argv);
