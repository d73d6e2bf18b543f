import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import cliProgress from "cli-progress";
import type { TrainingEvent } from "../core/events.ts";
import { armLabel, type ExperimentSpec, parseSpec, SpecError } from "../core/spec.ts";
import { DirectoryCheckpointStore } from "../train/checkpoint.ts";
import { runTraining, type StepProgress, TrainingFailure } from "../train/run.ts";

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

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

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
    console.log(
      `done: top-1 ${percent(result.top1)} (best ${percent(result.bestTop1)}), ${result.wallSeconds.toFixed(1)} s, ` +
        `${result.backend.name} on ${result.backend.device}`,
    );
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
  switch (event.type) {
    case "run.started":
      console.log(
        `${event.arm} seed ${event.seed}: ${event.trainImages} train / ${event.testImages} test images, ` +
          `${event.epochs} epochs × ${event.stepsPerEpoch} steps, ${(event.parameters / 1e3).toFixed(0)}k params, ` +
          `backend ${event.backend.name} (${event.backend.threads} thread${event.backend.threads > 1 ? "s" : ""}, ${event.backend.device})` +
          (event.startEpoch > 0 ? `, resumed at epoch ${event.startEpoch}` : ""),
      );
      break;
    case "epoch.completed":
      console.log(
        `epoch ${event.epoch + 1}: loss ${event.trainLoss.toFixed(4)}, train ${percent(event.trainAccuracy)}, ` +
          (event.evaluation
            ? `test ${percent(event.evaluation.online)} (best ${percent(event.evaluation.best)} ${event.evaluation.bestSource}), `
            : "") +
          `${event.imagesPerSecond.toFixed(1)} img/s, lr ${event.lr.toExponential(2)}, ` +
          `depth ${event.architecture.depth} side ${event.architecture.side}`,
      );
      break;
    case "stage.started":
      console.log(
        `stage ${event.stage + 1}: epochs ${event.startEpoch + 1}–${event.startEpoch + event.epochs}, ` +
          `depth ${event.depth}, side ${event.side} (${event.tokens} tokens)`,
      );
      break;
    case "stage.grown":
      console.log(
        `  grown (${event.operator}): ${event.from.depth}@${event.from.side} → ${event.to.depth}@${event.to.side}, ` +
          `${(event.flopsBefore / 1e6).toFixed(1)} → ${(event.flopsAfter / 1e6).toFixed(1)} MFLOPs/image`,
      );
      break;
    case "stage.search.started":
      console.log(
        `  search: ${event.candidates.length} candidates, supernet for ${event.supernetSteps} steps: ` +
          event.candidates.map((c) => `${c.depth}@${c.side}`).join(" "),
      );
      break;
    case "stage.search.completed":
      console.log(
        `  search done in ${event.searchSeconds.toFixed(1)} s (${event.selection}` +
          (event.selection === "paired"
            ? `, z ${event.z}`
            : `, a1 ${event.a1.toFixed(3)}, w ${event.w.toFixed(3)}`) +
          "; * chosen, = tied): " +
          event.candidates
            .map(
              (c) =>
                `${c.chosen ? "*" : ""}${c.tied ? "=" : ""}${c.depth}@${c.side} L=${c.loss.toFixed(3)}` +
                (event.selection === "paired"
                  ? ` Δ=${c.meanDifference.toFixed(4)}±${c.standardError.toFixed(4)}`
                  : ` S=${c.score.toPrecision(3)}`),
            )
            .join(", "),
      );
      break;
    case "checkpoint.saved":
      break;
    case "run.completed":
      break;
    case "run.failed":
      console.error(`run failed (${event.reason}): ${event.message}`);
      break;
  }
}

function progressBar() {
  const bar = new cliProgress.SingleBar(
    {
      format:
        "epoch {epochLabel} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {ips} img/s | eta {eta_formatted}",
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
        epochLabel: `${p.epoch + 1}/${p.epochs}`,
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
