import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_RUN_CEILINGS } from "../../src/core/run-cost.ts";
import { defaultMaxRunBytes, loadSettings } from "../../src/env.ts";
import { expectProblem, read, type TestApp, tableCounts, testApp, tinySpec } from "./helpers.ts";

/** Issue 23's spec: ViT-B width and depth, 1,025 tokens (128 px in 4-px patches), batch 4. */
const VIT_B_1025 = {
  name: "vit-b-1025",
  dataset: { name: "cifar10" },
  model: { imageSize: 128, patchSize: 4, width: 768, depth: 12, heads: 12 },
  training: { batchSize: 4 },
};

type Plan = {
  arms: {
    arm: string;
    cost: {
      memory: { bytes: number; largestStep: { depth: number; tokens: number; batch: number } };
      flops: { train: number; evaluation: number; total: number };
    };
  }[];
  ceilings: { maxRunBytes: number; maxRunFlops: number };
};

let t: TestApp;
afterEach(() => t.close());

describe("run ceilings at submission", () => {
  it("refuses the ViT-B spec at 1,025 tokens with the estimate, when creating and when validating, writing nothing", async () => {
    t = testApp();
    const before = await tableCounts(t.db);
    for (const path of ["/v1/experiments", "/v1/experiments/validate"]) {
      const problem = await expectProblem(await t.post(path, VIT_B_1025), 422, "validation_failed");
      expect(problem.detail).toMatch(/a run needs about \d+ GB/);
      expect(problem.errors).toEqual([
        {
          location: "body",
          path: "training.evalBatchSize",
          message: expect.stringMatching(
            /^arm original: a run needs about \d+ GB .*a step at batch 4 of depth 12 × 1025 tokens .*allows 16\.0 GB per run \(AUTOPROG_MAX_RUN_GB\)$/,
          ),
        },
        {
          location: "body",
          path: "training.epochs",
          message: expect.stringMatching(/needs about \d+ PFLOP .*allows 100 PFLOP per run/),
        },
      ]);
    }
    expect(await tableCounts(t.db)).toEqual(before);
  });

  it("shows each arm's estimate and the ceilings in the validate route's plan", async () => {
    t = testApp();
    const spec = tinySpec({
      arms: [{ arm: "original" }, { arm: "prog" }],
      training: { epochs: 4, batchSize: 32, warmupEpochs: 0 },
    });
    const plan = await read<Plan>(await t.post("/v1/experiments/validate", spec));
    expect(plan.ceilings).toEqual(DEFAULT_RUN_CEILINGS);
    const [original, prog] = plan.arms;
    expect(original?.cost.memory.largestStep).toMatchObject({ depth: 2, tokens: 17, batch: 32 });
    expect(original?.cost.memory.bytes).toBeGreaterThan(0);
    expect(prog?.cost.flops.train).toBeLessThan(original?.cost.flops.train ?? 0);
    expect(original?.cost.flops.total).toBe(
      (original?.cost.flops.train ?? 0) + (original?.cost.flops.evaluation ?? 0),
    );
  });

  it("applies the server's own ceilings", async () => {
    t = testApp({ runCeilings: { maxRunBytes: 1e6, maxRunFlops: 1e6 } });
    const response = await t.post("/v1/experiments", tinySpec());
    const problem = await expectProblem(response, 422, "validation_failed");
    // tinySpec evaluates 64 images at a time and trains 32: the evaluation needs the most.
    expect((problem.errors as { path: string }[]).map((e) => e.path)).toEqual([
      "training.evalBatchSize",
      "training.epochs",
    ]);
    expect(problem.detail).toMatch(/allows 0\.00100 GB per run/);
  });
});

describe("run ceiling settings", () => {
  it("defaults the memory ceiling to half the machine's memory per trainer, and reads both settings", () => {
    expect(defaultMaxRunBytes(24e9, 1)).toBe(12e9);
    expect(defaultMaxRunBytes(24e9, 4)).toBe(3e9);
    expect(defaultMaxRunBytes(24e9, 0)).toBe(12e9);
    const set = loadSettings({ AUTOPROG_MAX_RUN_GB: "2.5", AUTOPROG_MAX_RUN_PFLOPS: "7" });
    expect(set.runCeilings).toEqual({ maxRunBytes: 2.5e9, maxRunFlops: 7e15 });
    expect(loadSettings({}).runCeilings.maxRunFlops).toBe(DEFAULT_RUN_CEILINGS.maxRunFlops);
    expect(() => loadSettings({ AUTOPROG_MAX_RUN_GB: "0" })).toThrow(/AUTOPROG_MAX_RUN_GB/);
  });
});
