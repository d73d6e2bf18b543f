import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import cliProgress from "cli-progress";
import type { TrainingEvent } from "../core/events.ts";
import { armLabel, type ExperimentSpec, parseSpec, SpecError } from "../core/spec.ts";
import { epochOfRun } from "../core/vocabulary.ts";
import { DirectoryCheckpointStore } from "../train/checkpoint.ts";
import { runTraining, type StepProgress, TrainingFailure } from "../train/run.ts";
import { eventLine, percent, resultLine } from "./event-lines.ts";

export interface TrainCommandOptions {
  readonly arm?: string;
  readonly seed?: number;
  readonly out?: string;
  readonly checkpoints?: string;
  readonly backend?: ExperimentSpec["backend"];
  readonly workers?: number;
  readonly saveModel?: string;
  readonly progress: boolean;
}

export async function trainCommand(specPath: string, options: TrainCommandOptions): Promise<void> {
  let spec: ExperimentSpec;
  try {
    spec = parseSpec(JSON.parse(await readFile(specPath, "utf8")));
  } catch (error) {
    if (error instanceof SpecError) {
      console.error(`${specPath}: invalid spec`);
      for (const e of error.errors) console.error(`  ${e.path || "(root)"}: ${e.message}`);
    } else console.error(`${specPath}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
    return;
  }
  const labels = spec.arms.map(armLabel);
  const arm = options.arm ?? labels[0];
  if (arm === undefined || !labels.includes(arm)) {
    console.error(`${specPath}: no arm "${arm}" (arms: ${labels.join(", ")})`);
    process.exitCode = 2;
    return;
  }

  const bar = options.progress && process.stderr.isTTY ? progressBar() : null;
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  try {
    const result = await runTraining(spec, {
      arm,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.backend ? { backend: options.backend } : {}),
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      ...(options.saveModel ? { modelPath: options.saveModel } : {}),
      checkpoints: options.checkpoints ? new DirectoryCheckpointStore(options.checkpoints) : null,
      signal: controller.signal,
      onEvent: (event) => {
        bar?.stop();
        logEvent(event);
      },
      ...(bar ? { onProgress: (p: StepProgress) => bar.update(p) } : {}),
    });
    bar?.stop();
    console.log(resultLine(result));
    if (options.out) {
      await mkdir(dirname(options.out), { recursive: true });
      await writeFile(options.out, `${JSON.stringify(result, null, 2)}\n`);
      console.log(`result written to ${options.out}`);
    }
  } catch (error) {
    bar?.stop();
    if (!(error instanceof TrainingFailure)) console.error(error);
    process.exitCode = 1;
  }
}

function logEvent(event: TrainingEvent): void {
  // The result line is printed once training returns, after the bar is gone.
  if (event.type === "run.completed") return;
  const line = eventLine(event);
  if (line === undefined) return;
  if (event.type === "run.failed") console.error(line);
  else console.log(line);
}

function progressBar() {
  const bar = new cliProgress.SingleBar(
    {
      format:
        "{epochLabel} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {ips} img/s | eta {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = -1;
  return {
    update(p: StepProgress) {
      const payload = {
        epochLabel: epochOfRun(p.epoch, p.epochs),
        loss: p.loss.toFixed(4),
        acc: percent(p.accuracy),
        ips: p.imagesPerSecond.toFixed(1),
      };
      if (started !== p.epoch) {
        started = p.epoch;
        bar.start(p.stepsPerEpoch, p.stepInEpoch, payload);
      } else bar.update(p.stepInEpoch, payload);
    },
    stop() {
      if (started >= 0) bar.stop();
      started = -1;
    },
  };
}
