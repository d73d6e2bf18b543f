import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Experiment } from "../../routes/experiments/schema.ts";
import { SPEC_LIMITS } from "../../src/core/spec-limits.ts";
import { expectProblem, read, type TestApp, tableCounts, testApp, tinySpec } from "./helpers.ts";

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

const labelled = (n: number) => Array.from({ length: n }, (_, i) => ({ arm: "original", label: `a${i}` }));
const seeds = (n: number) => Array.from({ length: n }, (_, i) => i);
const model = { variant: "micro", patchSize: 7, width: 32, depth: 2, heads: 2, mlpRatio: 2 };

/** Specs that used to be accepted and then exhaust a trainer, or that answered 500. */
describe.each([
  {
    case: "width 4096, depth 48, 1024 px",
    patch: { model: { width: 4096, depth: 48, heads: 32, imageSize: 1024 } },
    path: "model.width",
  },
  { case: "depth 2147483647", patch: { model: { ...model, depth: 2_147_483_647 } }, path: "model.depth" },
  {
    case: "a fixed side not divisible by the patch",
    patch: {
      arms: [
        {
          arm: "fixed",
          schedule: [
            { depth: 1, side: 14 },
            { depth: 2, side: 30 },
          ],
        },
      ],
      training: { epochs: 2, stages: 2 },
    },
    path: "arms.0.schedule.1.side",
  },
  {
    case: "a fixed depth above the model's",
    patch: {
      arms: [
        {
          arm: "fixed",
          schedule: [
            { depth: 1, side: 14 },
            { depth: 3, side: 28 },
          ],
        },
      ],
      training: { epochs: 2, stages: 2 },
    },
    path: "arms.0.schedule.1.depth",
  },
  { case: "mlpRatio 1e308", patch: { model: { ...model, mlpRatio: 1e308 } }, path: "model.mlpRatio" },
  {
    case: "an mlpRatio that rounds the MLP to nothing",
    patch: { model: { ...model, mlpRatio: 0.01 } },
    path: "model.mlpRatio",
  },
  {
    case: "more stages than epochs",
    patch: { arms: [{ arm: "prog" }], training: { epochs: 2, stages: 4 } },
    path: "training.stages",
  },
  { case: "64 arms × 16 seeds", patch: { arms: labelled(64), seeds: seeds(16) }, path: "arms" },
  { case: "1000 arms × 16 seeds", patch: { arms: labelled(1000), seeds: seeds(16) }, path: "arms" },
  { case: "8 arms × 16 seeds", patch: { arms: labelled(8), seeds: seeds(16) }, path: "seeds" },
  {
    case: "a root for a dataset that takes none",
    patch: { dataset: { name: "mnist", root: "cifar" } },
    path: "dataset.root",
  },
])("POST /v1/experiments with $case", ({ patch, path }) => {
  it.each(["", "/validate"])(
    "is a 422 naming the field at /v1/experiments%s, and writes nothing",
    async (suffix) => {
      const before = await tableCounts(t.db);
      const response = await t.post(`/v1/experiments${suffix}`, tinySpec(patch));
      const problem = await expectProblem(response, 422, "validation_failed");
      expect((problem.errors as { path: string }[]).map((e) => e.path)).toContain(path);
      expect(await tableCounts(t.db)).toEqual(before);
    },
  );
});

describe("the runs ceiling", () => {
  it(`creates an experiment of ${SPEC_LIMITS.runs} runs (inserted in chunks the database accepts)`, async () => {
    const response = await t.post("/v1/experiments", tinySpec({ arms: labelled(4), seeds: seeds(16) }));
    expect(response.status).toBe(201);
    const body = await read<Experiment>(response);
    expect(body.runs).toHaveLength(SPEC_LIMITS.runs);
    expect((await tableCounts(t.db)).runs).toBe(SPEC_LIMITS.runs);
  });
});
