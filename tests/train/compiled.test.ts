import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { RunResult } from "../../src/core/events.ts";
import type { ExperimentSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { CompiledSteps } from "../../src/train/compiled-steps.ts";
import { runTraining } from "../../src/train/run.ts";
import { dawnDevice } from "../backend/compiled/harness.ts";
import { runUntilCheckpoint, tinyGrowthSpec, tinyMnistSpec } from "./helpers.ts";

/*
 * The trainer on the webgpu backend runs the compiled step (src/backend/compiled). Against the
 * same runs on wasm: per-epoch training losses within 2e-3 (both fp32; a few dozen steps apart
 * only by summation order and an erf approximation, ~1e-5 per step) and test accuracy within 2
 * images of 64 (a rounding difference may flip an image near the boundary).
 */
let skip = "";
beforeAll(async () => {
  const found = await dawnDevice();
  if ("skip" in found) skip = found.skip;
  else found.device.destroy();
});

const onBackend = (spec: ExperimentSpec, backend: "webgpu" | "wasm"): ExperimentSpec => ({
  ...spec,
  backend,
});

async function bothEngines(spec: ExperimentSpec, arm?: string): Promise<[RunResult, RunResult]> {
  const compiled = await runTraining(onBackend(spec, "webgpu"), arm ? { arm } : {});
  expect(compiled.backend.name).toBe("webgpu");
  const before = tf.memory().numTensors;
  const wasm = await runTraining(onBackend(spec, "wasm"), arm ? { arm } : {});
  expect(tf.memory().numTensors).toBe(before);
  return [compiled, wasm];
}

function expectSameTraining(compiled: RunResult, wasm: RunResult, testImages: number): void {
  expect(compiled.schedule).toEqual(wasm.schedule);
  expect(compiled.history).toHaveLength(wasm.history.length);
  compiled.history.forEach((h, i) => {
    expect(Math.abs(h.trainLoss - (wasm.history[i]?.trainLoss ?? Number.NaN)), `epoch ${i}`).toBeLessThan(
      2e-3,
    );
  });
  expect(Math.abs(compiled.top1 - wasm.top1) * testImages).toBeLessThanOrEqual(2);
}

describe("the trainer's compiled step on webgpu (lavapipe)", () => {
  it("trains two epochs to wasm's losses and accuracy", async (context) => {
    if (skip) return context.skip(skip);
    const steps = vi.spyOn(CompiledSteps.prototype, "step");
    const disposed = vi.spyOn(CompiledSteps.prototype, "dispose");
    const [compiled, wasm] = await bothEngines(tinyMnistSpec());
    expect(steps).toHaveBeenCalledTimes(2 * (128 / 32)); // every step of the webgpu run, none of wasm's
    const stepper = disposed.mock.contexts[0] as CompiledSteps;
    expect(stepper.liveBuffers).toBe(0);
    steps.mockRestore();
    disposed.mockRestore();
    expectSameTraining(compiled, wasm, 64);
  });

  it.for([
    { arm: "prog", operator: "MoGrow, smaller sides" },
    { arm: "fixed", operator: "identity (ReZero scalars)" },
  ])("grows mid-run ($arm: $operator) as wasm does", async ({ arm }, context) => {
    if (skip) return context.skip(skip);
    const schedule = [
      { depth: 2, side: 14 },
      { depth: 2, side: 14 },
      { depth: 4, side: 28 },
      { depth: 4, side: 28 },
    ];
    const arms =
      arm === "prog"
        ? [{ arm: "prog" as const }]
        : [{ arm: "fixed" as const, schedule, operator: "identity" as const }];
    const spec = tinyGrowthSpec(arms, 4, { dropPath: 0.2, gradClipNorm: 1 });
    const [compiled, wasm] = await bothEngines(spec, arm);
    expect(compiled.stages.length).toBeGreaterThan(1);
    expectSameTraining(compiled, wasm, 32);
  });

  it("trains autoprog's supernet (sampled sub-networks, search points) as wasm does", async (context) => {
    if (skip) return context.skip(skip);
    const autoprog = {
      arm: "autoprog" as const,
      supernetEpochs: 1,
      search: { cost: "flops" as const, subsetSize: 32 },
    };
    const [compiled, wasm] = await bothEngines(tinyGrowthSpec([autoprog], 4, { evalEvery: 4 }), "autoprog");
    const chosen = (r: RunResult) =>
      r.search.map((s) => s.candidates.filter((c) => c.chosen).map((c) => [c.depth, c.side]));
    expect(compiled.search.length).toBeGreaterThan(0);
    expect(chosen(compiled)).toEqual(chosen(wasm));
    expectSameTraining(compiled, wasm, 32);
  });

  it("resumes from a checkpoint the compiled step wrote to exactly an uninterrupted run", async (context) => {
    if (skip) return context.skip(skip);
    const spec = onBackend(tinyMnistSpec({ training: { epochs: 3 } }), "webgpu");
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-compiled-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-compiled-resumed-"));
    const straight = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 10) });
    await runUntilCheckpoint(spec, resumedDir, 1);
    const resumed = await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(resumedDir, 10) });
    const final = "epoch-0003.bin";
    const [a, b] = await Promise.all([readFile(join(straightDir, final)), readFile(join(resumedDir, final))]);
    expect(a.equals(b)).toBe(true);
    expect(resumed.history.map((h) => h.trainLoss)).toEqual(straight.history.map((h) => h.trainLoss));
    expect(resumed.top1).toBe(straight.top1);
  });
});
