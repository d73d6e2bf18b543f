import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { TrainingEvent } from "../../src/core/events.ts";
import type { ExperimentSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { CompiledSteps } from "../../src/train/compiled-steps.ts";
import { runTraining } from "../../src/train/run.ts";
import { dawnDevice } from "../backend/compiled/harness.ts";
import { runUntilCheckpoint, tinyMnistSpec } from "./helpers.ts";

/*
 * `training.precision: "mixed"` on the webgpu backend's compiled step (lavapipe: f16
 * register-tiled matmuls, shader-f16, no subgroup matrix) against the same run in fp32.
 * Stated band: every epoch's mean training loss within 2% of fp32's (f16 inputs carry ~3 decimal
 * digits; over 200 steps the two runs drift apart by rounding alone, not by a different method).
 */
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else {
    if (!found.device.features.has("shader-f16")) skip = "the adapter has no shader-f16";
    found.device.destroy();
  }
});
afterEach(() => vi.restoreAllMocks());

const LOSS_BAND = 0.02;

const onWebgpu = (spec: ExperimentSpec, precision: "fp32" | "mixed"): ExperimentSpec => ({
  ...spec,
  backend: "webgpu",
  training: { ...spec.training, precision },
});

/** Steps with a short loss-scale growth interval, so a few steps change the scale. */
function shortGrowthInterval(interval: number): void {
  const forBackend = CompiledSteps.forBackend.bind(CompiledSteps);
  vi.spyOn(CompiledSteps, "forBackend").mockImplementation(async (backend, precision) => {
    const steps = await forBackend(backend, precision);
    return steps ? new CompiledSteps(steps.compute, interval) : null;
  });
}

describe("mixed precision in the trainer (webgpu, lavapipe)", () => {
  it("200 steps in mixed stay within the stated band of fp32's loss curve", async (context) => {
    if (skip) return context.skip(skip);
    // 800 images at batch 16: 50 steps an epoch, 4 epochs.
    const spec = tinyMnistSpec({ trainLimit: 800, training: { epochs: 4, batchSize: 16, lr: 2e-3 } });
    const fp32 = await runTraining(onWebgpu(spec, "fp32"));
    const mixed = await runTraining(onWebgpu(spec, "mixed"));
    expect(mixed.steps).toBe(200);
    expect(mixed.backend.precision).toMatchObject({ requested: "mixed", used: "mixed" });
    expect(mixed.backend.precision?.matmuls).toMatch(/^f16 register-tiled/);
    expect(mixed.backend.precision?.deviceFeatures).toContain("shader-f16");
    expect(fp32.backend.precision).toMatchObject({ requested: "fp32", used: "fp32", matmuls: "fp32" });
    expect(mixed.skippedSteps).toBe(0);
    expect(mixed.lossScale).toBe(65536);
    expect(fp32.lossScale).toBeNull();
    const gaps = mixed.history.map((h, i) => {
      const reference = fp32.history[i]?.trainLoss ?? Number.NaN;
      return Math.abs(h.trainLoss - reference) / reference;
    });
    console.log(
      "mixed vs fp32 per-epoch train loss:",
      mixed.history
        .map((h, i) => `${h.trainLoss.toFixed(4)}/${fp32.history[i]?.trainLoss.toFixed(4)}`)
        .join(" "),
      "top-1",
      mixed.top1,
      fp32.top1,
    );
    for (const [epoch, gap] of gaps.entries()) expect(gap, `epoch ${epoch}`).toBeLessThan(LOSS_BAND);
    // The curve really descends (the band is not met by two flat lines).
    expect(mixed.history.at(-1)?.trainLoss).toBeLessThan((mixed.history[0]?.trainLoss ?? 0) * 0.9);
  }, 900_000);

  it("an inf in one batch skips that step: counted in epoch.completed and the result, the scale halved, the run goes on", async (context) => {
    if (skip) return context.skip(skip);
    const step = CompiledSteps.prototype.step;
    let calls = 0;
    vi.spyOn(CompiledSteps.prototype, "step").mockImplementation(function (
      this: CompiledSteps,
      state,
      batch,
      options,
    ) {
      calls += 1;
      const poisoned =
        calls === 3
          ? { ...batch, x: Float32Array.from(batch.x, (v, i) => (i === 0 ? Number.POSITIVE_INFINITY : v)) }
          : batch;
      return step.call(this, state, poisoned, options);
    });
    const events: TrainingEvent[] = [];
    const result = await runTraining(onWebgpu(tinyMnistSpec(), "mixed"), { onEvent: (e) => events.push(e) });
    const epochs = events.flatMap((e) => (e.type === "epoch.completed" ? [e] : []));
    expect(epochs.map((e) => e.skippedSteps)).toEqual([1, 0]);
    expect(epochs.map((e) => e.lossScale)).toEqual([32768, 32768]);
    expect(epochs.every((e) => Number.isFinite(e.trainLoss))).toBe(true);
    expect(result.skippedSteps).toBe(1);
    expect(result.lossScale).toBe(32768);
    expect(result.steps).toBe(8); // the trainer's step count includes the skipped step; AdamW's does not
  }, 600_000);

  it("resumes mid-run with a non-default loss scale exactly as an uninterrupted run", async (context) => {
    if (skip) return context.skip(skip);
    shortGrowthInterval(3); // 4 steps an epoch: the scale doubles at steps 3, 6, 9, 12
    const spec = onWebgpu(tinyMnistSpec({ training: { epochs: 3 } }), "mixed");
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-mixed-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-mixed-resumed-"));
    const straight = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 10) });
    await runUntilCheckpoint(spec, resumedDir, 1);
    const saved = JSON.parse(await readFile(join(resumedDir, "epoch-0001.json"), "utf8"));
    expect(saved.lossScale).toEqual({ scale: 65536 * 2, cleanSteps: 1, skippedSteps: 0 });
    expect(saved.optimizerStep).toBe(4);
    const resumed = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(resumedDir, 10) });
    expect(straight.lossScale).toBe(65536 * 16);
    expect(resumed.lossScale).toBe(straight.lossScale);
    expect(resumed.history.map((h) => h.lossScale)).toEqual([65536 * 2, 65536 * 4, 65536 * 16]);
    expect(straight.history.map((h) => h.lossScale)).toEqual([65536 * 2, 65536 * 4, 65536 * 16]);
    const final = "epoch-0003.bin";
    const [a, b] = await Promise.all([readFile(join(straightDir, final)), readFile(join(resumedDir, final))]);
    expect(a.equals(b)).toBe(true);
    expect(resumed.history.map((h) => h.trainLoss)).toEqual(straight.history.map((h) => h.trainLoss));
  }, 600_000);
});
