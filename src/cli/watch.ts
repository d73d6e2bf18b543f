import cliProgress from "cli-progress";
import { type AutoprogClient, followRunEvents, type TrainingEvent, unwrap } from "../client/index.ts";
import { type ClientFlags, clientFor } from "./client-options.ts";
import { eventLine, percent } from "./event-lines.ts";

export interface WatchFlags extends ClientFlags {
  /** false with --no-progress: plain lines, one per epoch, even on a terminal. */
  readonly progress: boolean;
}

/** `autoprog watch <run>`: exit code 0 once the run completes, 1 when it fails or is cancelled. */
export async function watchCommand(runId: string, flags: WatchFlags): Promise<void> {
  const state = await watchRun(clientFor(flags), runId, flags);
  if (state !== "completed") process.exitCode = 1;
}

/**
 * Follows a run to its end, replaying what already happened: a bar of epochs done of the
 * run's total across stages (on a terminal), one line per stage, growth and search as they
 * happen, then the result. Returns the run's final state.
 */
export async function watchRun(client: AutoprogClient, runId: string, flags: WatchFlags): Promise<string> {
  const run = unwrap(await client.GET("/v1/runs/{id}", { params: { path: { id: runId } } }));
  console.log(`${run.id}: ${run.label} seed ${run.seed}, ${run.epochs} epochs (${run.state})`);
  const bar = flags.progress && process.stderr.isTTY ? new EpochBar(run.epochs) : null;
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once("SIGINT", interrupt);
  let final: string | undefined;
  try {
    const events = followRunEvents(client, runId, {
      signal: controller.signal,
      onReconnect: ({ delayMs, after, error }) => {
        const why = error instanceof Error ? error.message : String(error);
        const line = `  (${why}; resuming after event ${after} in ${(delayMs / 1000).toFixed(1)} s)`;
        if (bar) bar.log(line);
        else console.error(line);
      },
    });
    for await (const { event } of events) {
      if (event.type === "epoch.completed" && bar) bar.epoch(event);
      else {
        if (event.type === "stage.started") bar?.stage(event.stage);
        const line = eventLine(event);
        if (line !== undefined && bar) bar.log(line);
        else if (line !== undefined) console.log(line);
      }
      final = finalState(event) ?? final;
    }
  } finally {
    bar?.stop();
    process.off("SIGINT", interrupt);
  }
  if (controller.signal.aborted) return "interrupted";
  // The stream ended without a terminal event (say, a run cancelled while queued): ask.
  return final ?? unwrap(await client.GET("/v1/runs/{id}", { params: { path: { id: runId } } })).state;
}

function finalState(event: TrainingEvent): string | undefined {
  if (event.type === "run.completed") return "completed";
  if (event.type === "run.failed") return event.reason === "cancelled" ? "cancelled" : "failed";
  return undefined;
}

/** One bar for the whole run: epochs done of total, with the stage and latest numbers. */
class EpochBar {
  private readonly bar = new cliProgress.SingleBar(
    {
      format: "stage {stage} [{bar}] {value}/{total} epochs | {arch} | loss {loss} | top-1 {top1}",
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  private done = 0;
  private payload = { stage: "0", arch: "-", loss: "-", top1: "-" };
  private active = false;

  constructor(private readonly total: number) {}

  stage(stage: number): void {
    // Stages and epochs are numbered from 0, as the API and the event lines number them.
    this.payload = { ...this.payload, stage: String(stage) };
    this.show();
  }

  epoch(event: Extract<TrainingEvent, { type: "epoch.completed" }>): void {
    this.done = event.epoch + 1;
    this.payload = {
      ...this.payload,
      arch: `depth ${event.architecture.depth} side ${event.architecture.side}`,
      loss: event.trainLoss.toFixed(4),
      top1: event.evaluation ? percent(event.evaluation.best) : this.payload.top1,
    };
    this.show();
  }

  /** A line above the bar: clear it, print, draw it again. */
  log(line: string): void {
    this.stop();
    console.log(line);
    this.show();
  }

  stop(): void {
    if (this.active) this.bar.stop();
    this.active = false;
  }

  private show(): void {
    if (this.active) this.bar.update(this.done, this.payload);
    else this.bar.start(this.total, this.done, this.payload);
    this.active = true;
  }
}
