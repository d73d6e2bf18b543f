import { describe, expect, it } from "vitest";
import { forwardFlops, parameterCount } from "../../src/core/flops.ts";
import { modelConfigOf } from "../../src/core/plan.ts";
import {
  armCost,
  ceilingIssues,
  DEFAULT_RUN_CEILINGS,
  experimentCost,
  TRAIN_FLOPS_PER_FORWARD,
} from "../../src/core/run-cost.ts";
import { type ExperimentSpecInput, parseSpec } from "../../src/core/spec.ts";

const costOf = (input: Omit<ExperimentSpecInput, "name">) => {
  const spec = parseSpec({ name: "cost", ...input });
  return { spec, costs: experimentCost(spec) };
};

/** The spec of issue 23: ViT-B width and depth at 1,025 tokens (128 px in 4-px patches), batch 4. */
const VIT_B_1025 = {
  dataset: { name: "cifar10" },
  model: { imageSize: 128, patchSize: 4, width: 768, depth: 12, heads: 12 },
  training: { batchSize: 4 },
} as const;

describe("run cost estimate", () => {
  it("counts the state as weights, AdamW's four flat buffers and one copy per EMA", () => {
    const one = costOf({ dataset: { name: "mnist" }, training: { ema: [{ name: "slow", horizon: 0.1 }] } });
    const three = costOf({
      dataset: { name: "mnist" },
      training: {
        ema: [
          { name: "slow", horizon: 0.1 },
          { name: "a", horizon: 0.1 },
          { name: "b", horizon: 0.1 },
        ],
      },
    });
    const config = modelConfigOf(one.spec);
    const parameterBytes = 4 * parameterCount(config, config.depth);
    expect(one.costs[0]?.memory.parts.state).toBe(6 * parameterBytes);
    expect(three.costs[0]?.memory.parts.state).toBe(8 * parameterBytes);
  });

  it("grows the step's activations with the batch and the attention with tokens squared", () => {
    const at = (batchSize: number, imageSize: number) =>
      costOf({ dataset: { name: "mnist" }, model: { imageSize }, training: { batchSize } }).costs[0]?.memory
        .parts.step ?? 0;
    expect(at(64, 28)).toBeGreaterThan(1.9 * at(32, 28));
    // 4× the tokens: more than 4× the activations, the [B, H, N, N] probabilities grow 16×.
    expect(at(32, 56)).toBeGreaterThan(4.5 * at(32, 28));
  });

  it("takes the largest step a growing arm reaches, at its scaled batch", () => {
    const { costs } = costOf({
      dataset: { name: "mnist" },
      training: { epochs: 4, batchSize: 32, batchScaling: { maxBatch: 1024 } },
      arms: [{ arm: "original" }, { arm: "prog" }],
    });
    const [original, prog] = costs;
    expect(original?.memory.largestStep).toMatchObject({ depth: 6, side: 28, batch: 32 });
    // prog's first stage is cheaper per image and trains at a larger batch.
    expect(prog?.memory.largestStep.batch).toBeGreaterThan(32);
    expect(prog?.memory.largestStep.depth).toBeLessThan(6);
  });

  it("counts the work of every stage: 3 × forward × images × epochs, plus the evaluations", () => {
    const { spec, costs } = costOf({
      dataset: { name: "mnist", trainLimit: 1000, testLimit: 100 },
      training: { epochs: 4, evalEvery: 2 },
    });
    const config = modelConfigOf(spec);
    const forward = forwardFlops(config, config.depth, config.imageSize);
    const flops = costs[0]?.flops;
    expect(flops?.train).toBe(TRAIN_FLOPS_PER_FORWARD * forward * 1000 * 4);
    // Epochs 2 and 4 evaluate the online model and two EMAs.
    expect(flops?.evaluation).toBe(2 * 3 * forward * 100);
    const prog = costOf({
      dataset: { name: "mnist", trainLimit: 1000, testLimit: 100 },
      training: { epochs: 4, evalEvery: 2 },
      arms: [{ arm: "prog" }],
    }).costs[0];
    expect(prog?.flops.train).toBeLessThan(flops?.train ?? 0);
  });

  it("refuses the ViT-B spec at 1,025 tokens under the default ceiling, naming the field and the estimate", () => {
    const { spec, costs } = costOf(VIT_B_1025);
    const cost = costs[0];
    expect(cost?.memory.largestStep).toMatchObject({ depth: 12, tokens: 1025, batch: 4 });
    expect(cost?.memory.bytes).toBeGreaterThan(DEFAULT_RUN_CEILINGS.maxRunBytes);
    const issues = ceilingIssues(spec, costs, DEFAULT_RUN_CEILINGS);
    // The default evaluation batch of 256 at 1,025 tokens is what needs the most.
    expect(issues[0]?.path).toBe("training.evalBatchSize");
    expect(issues[0]?.message).toMatch(/needs about \d+(\.\d+)? GB .*allows 16\.0 GB per run/);
    // With a small evaluation batch the training step is the largest part.
    const small = costOf({ ...VIT_B_1025, training: { batchSize: 4, evalBatchSize: 4 } });
    const tight = { maxRunBytes: 4e9, maxRunFlops: Number.POSITIVE_INFINITY };
    expect(ceilingIssues(small.spec, small.costs, tight).map((i) => i.path)).toEqual(["training.batchSize"]);
  });

  it("refuses runs past the work ceiling on their epochs, and accepts the small default spec", () => {
    const { spec, costs } = costOf({
      dataset: { name: "cifar10" },
      model: { variant: "small" },
      training: { epochs: 10_000 },
    });
    const issues = ceilingIssues(spec, costs, DEFAULT_RUN_CEILINGS);
    expect(issues.map((i) => i.path)).toEqual(["training.epochs"]);
    expect(issues[0]?.message).toMatch(/needs about [\d.]+ PFLOP .*allows 100 PFLOP/);
    const micro = costOf({ dataset: { name: "mnist" } });
    expect(ceilingIssues(micro.spec, micro.costs, DEFAULT_RUN_CEILINGS)).toEqual([]);
  });

  it("counts a search's image subset, and the state twice while a look-ahead search trains a copy", () => {
    const spec = parseSpec({
      name: "r",
      dataset: { name: "mnist" },
      training: { epochs: 4 },
      arms: [
        { arm: "autoprog", label: "a" },
        { arm: "autoprog", label: "b", search: { winnerWeights: "regrow" } },
      ],
    });
    const [plain, regrow] = spec.arms.map((arm) => armCost(spec, arm));
    const config = modelConfigOf(spec);
    const stateBytes = 4 * 7 * parameterCount(config, config.depth); // weights, AdamW's four, two EMAs
    // Both keep the search subset: 256 images of 28 × 28 × 1 with their labels and targets.
    const subsetBytes = 4 * 256 * (28 * 28 + 2 * 10);
    expect(plain?.memory.parts.state).toBe(stateBytes + subsetBytes);
    expect(regrow?.memory.parts.state).toBe(2 * stateBytes + subsetBytes);
  });
});
