import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type ExperimentSpecInput, parseSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { runRecording, runUntilCheckpoint } from "./helpers.ts";

beforeAll(useTestBackend);

/** Real MNIST, VOLO at 28 px with 4-px tokens (a 14×14 outlooker grid), 4 blocks (1 outlooker) 16 wide. */
function voloSpec(arms: ExperimentSpecInput["arms"], epochs = 4) {
  return parseSpec({
    name: "tiny-volo",
    dataset: { name: "mnist", trainLimit: 32, testLimit: 16 },
    model: { family: "volo", variant: "micro", width: 16, depth: 4, heads: 2, mlpRatio: 2 },
    training: { epochs, batchSize: 16, warmupEpochs: 0, evalBatchSize: 16, evalEvery: epochs, dropPath: 0.1 },
    arms,
    backend: "wasm",
  });
}

describe("VOLO through the trainer", () => {
  it("autoprog searches, grows both parts and ends as the full VOLO", async () => {
    const spec = voloSpec([
      {
        arm: "autoprog",
        supernetEpochs: 1,
        adaptiveRegularization: true,
        search: { cost: "flops", subsetSize: 16 },
      },
    ]);
    const { result, events } = await runRecording(spec, "autoprog");
    expect(result.schedule.at(-1)).toMatchObject({ depth: 4, side: 28 });
    expect(result.search.length).toBeGreaterThan(0);
    expect(Number.isFinite(result.top1)).toBe(true);
    expect(events.some((e) => e.type === "run.completed")).toBe(true);
  }, 300_000);

  it("resumes prog from a checkpoint to exactly the weights of an uninterrupted run (the VOLO shape survives the meta)", async () => {
    const spec = voloSpec([{ arm: "prog", operator: "identity" }]);
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-volo-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-volo-resumed-"));
    await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(straightDir, 20) });
    await runUntilCheckpoint(spec, resumedDir, 2);
    await runTraining(spec, { checkpoints: new DirectoryCheckpointStore(resumedDir, 20) });
    const a = await readFile(join(straightDir, "epoch-0004.bin"));
    const b = await readFile(join(resumedDir, "epoch-0004.bin"));
    expect(a.equals(b)).toBe(true);
  }, 300_000);
});
