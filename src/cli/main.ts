import { Command, Option } from "commander";
import { BACKEND_PREFERENCES } from "../core/spec.ts";
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
  .option("--checkpoints <dir>", "checkpoint folder; an existing checkpoint there is resumed")
  .addOption(
    new Option("--backend <name>", "tfjs backend (or AUTOPROG_BACKEND)").choices([...BACKEND_PREFERENCES]),
  )
  .option("--workers <n>", "threads sharing each step, data parallel (or AUTOPROG_WORKERS; default 1)", (v) =>
    Number.parseInt(v, 10),
  )
  .option("--no-progress", "plain log lines instead of a progress bar")
  .action(trainCommand);

await program.parseAsync(process.argv);
