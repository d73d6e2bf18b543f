import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { createAutoprogClient, DEFAULT_API_URL } from "../client/index.ts";
import { RUNS_FOLDER } from "../core/checkpoint-layout.ts";
import { BACKEND_PREFERENCES, type ExperimentSpec } from "../core/spec.ts";
import { SETTINGS } from "../settings/table.ts";
import { PullWorker } from "../worker/remote.ts";
import { WorkerApi } from "../worker/remote-api.ts";
import { startTrainerProcess } from "../worker/trainer-process.ts";

interface WorkerFlags {
  readonly api: string;
  readonly key?: string;
  readonly concurrency: number;
  readonly backend?: ExperimentSpec["backend"];
  readonly dataDir: string;
  readonly name?: string;
  readonly graceSeconds: number;
  readonly silenceSeconds: number;
}

const positiveInt = (v: string) => {
  const n = Number.parseInt(v, 10);
  if (!(n > 0)) throw new Error(`not a positive integer: ${v}`);
  return n;
};

const positiveNumber = (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`not a positive number: ${v}`);
  return n;
};

/** `autoprog worker`: a pull worker that trains the runs it leases from an API (src/worker/remote.ts). */
export function workerCommand(): Command {
  return new Command("worker")
    .description(
      "lease queued runs from an autoprog API and train them here (a pull worker; needs a worker key)",
    )
    .addOption(new Option("--api <url>", "the autoprog API").env("AUTOPROG_API_URL").default(DEFAULT_API_URL))
    .addOption(new Option("--key <key>", "a worker key of the project").env("AUTOPROG_API_KEY"))
    .addOption(new Option("--concurrency <n>", "runs trained at once").argParser(positiveInt).default(1))
    .addOption(
      new Option(
        "--backend <name>",
        "tfjs backend for every run (or AUTOPROG_BACKEND); auto skips software WebGPU adapters, webgpu forces one",
      )
        .choices([...BACKEND_PREFERENCES])
        .env("AUTOPROG_BACKEND"),
    )
    .addOption(
      new Option("--data-dir <dir>", "datasets, caches and scratch checkpoints")
        .env("AUTOPROG_DATA_DIR")
        .default("data"),
    )
    .addOption(
      new Option("--grace-seconds <s>", "a trainer told to stop is killed after this long")
        .env(SETTINGS.trainerGraceSeconds.env)
        .argParser(positiveNumber)
        .default(Number(SETTINGS.trainerGraceSeconds.default)),
    )
    .addOption(
      new Option("--silence-seconds <s>", "a trainer silent this long hangs and is killed")
        .env(SETTINGS.trainerSilenceSeconds.env)
        .argParser(positiveNumber)
        .default(Number(SETTINGS.trainerSilenceSeconds.default)),
    )
    .option("--name <name>", "this worker's name in the API's logs (default: host and pid)")
    .action(async (flags: WorkerFlags) => {
      if (!flags.key) {
        console.error("error: a worker key is required (--key or AUTOPROG_API_KEY)");
        process.exitCode = 1;
        return;
      }
      const dataDir = resolve(flags.dataDir);
      await mkdir(join(dataDir, RUNS_FOLDER), { recursive: true });
      const log = (message: string, fields: Record<string, unknown> = {}) =>
        console.log(JSON.stringify({ time: new Date().toISOString(), message, ...fields }));
      const worker = new PullWorker({
        api: new WorkerApi(createAutoprogClient({ api: flags.api, key: flags.key })),
        startTrainer: startTrainerProcess,
        graceMs: flags.graceSeconds * 1000,
        silenceMs: flags.silenceSeconds * 1000,
        name: flags.name ?? `${hostname()}-${process.pid}`,
        concurrency: flags.concurrency,
        dataDir,
        backend: flags.backend ?? null,
        log,
      });
      const stop = () => {
        log("stopping: handing the runs back");
        void worker.stop().then(() => {
          log("stopped");
          process.exit(0);
        });
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      log("worker started", { api: flags.api, concurrency: flags.concurrency, dataDir });
      await worker.start();
    });
}
