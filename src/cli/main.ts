import { Command, Option } from "commander";
import { BACKEND_PREFERENCES } from "../core/spec.ts";
import { keysCommand } from "./keys.ts";
import { trainCommand } from "./train.ts";

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
    new Option("--backend <name>", "tfjs backend (or AUTOPROG_BACKEND)").choices([...BACKEND_PREFERENCES]),
  )
  .option("--workers <n>", "threads sharing each step, data parallel (or AUTOPROG_WORKERS; default 1)", (v) =>
    Number.parseInt(v, 10),
  )
  .option("--no-progress", "plain log lines instead of a progress bar")
  .action(trainCommand);

program
  .command("serve")
  .description("serve the HTTP API and train queued runs in worker threads (settings: AUTOPROG_* variables)")
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

await program.parseAsync(process.argv);
