import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDatasetRoot } from "../../routes/experiments/dataset-root.ts";
import { parseSpec } from "../../src/core/spec.ts";
import { eventWithoutDataDir, specForTrainer, withoutDataDir } from "../../src/dispatch/server-paths.ts";
import { loadSettings } from "../../src/env.ts";
import { runFailed } from "../../support/fixtures.ts";
import { expectProblem, type TestApp, tableCounts, testApp, tinySpec } from "./helpers.ts";

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

const cifar = (root: string) =>
  tinySpec({
    dataset: { name: "cifar10", root },
    model: { variant: "micro", patchSize: 8, width: 32, depth: 2, heads: 2, mlpRatio: 2 },
  });

describe("dataset.root", () => {
  it.each(["/etc", "/nonexistent/cifar", "../../etc", "cifar/../../.."])(
    "refuses %s outside the dataset roots with the same answer whether it exists or not",
    async (root) => {
      const before = await tableCounts(t.db);
      const problem = await expectProblem(
        await t.post("/v1/experiments", cifar(root)),
        422,
        "validation_failed",
      );
      expect(problem.errors).toEqual([
        {
          location: "body",
          path: "dataset.root",
          message:
            "must be a folder under the server's dataset roots (relative paths are taken from its data folder)",
        },
      ]);
      expect(JSON.stringify(problem)).not.toContain(root.replace(/^\.\.\/.*/, "/etc"));
      expect(await tableCounts(t.db)).toEqual(before);
    },
  );

  it("accepts a folder inside the data folder and stores it as given", async () => {
    const response = await t.post("/v1/experiments", cifar("cifar-10-batches-bin"));
    expect(response.status).toBe(201);
    const body = (await response.json()) as { spec: { dataset: { root: string } } };
    expect(body.spec.dataset.root).toBe("cifar-10-batches-bin");
  });

  it("follows the configured roots", () => {
    const policy = { dataDir: "/srv/autoprog", allowed: ["/datasets", "/srv/autoprog"] };
    expect(() => checkDatasetRoot("cifar", policy)).not.toThrow();
    expect(() => checkDatasetRoot("/datasets/cifar", policy)).not.toThrow();
    expect(() => checkDatasetRoot("/datasets-other/cifar", policy)).toThrow();
    expect(() => checkDatasetRoot("/srv/autoprog/../secrets", policy)).toThrow();
    expect(() => checkDatasetRoot("cifar", { dataDir: "/srv/autoprog", allowed: ["/datasets"] })).toThrow();
  });

  it("reads AUTOPROG_DATASET_ROOTS, defaulting to the data folder", () => {
    expect(loadSettings({ AUTOPROG_DATA_DIR: "/srv/d" }).datasetRoots).toEqual(["/srv/d"]);
    expect(loadSettings({ AUTOPROG_DATASET_ROOTS: "/a:/b/c" }).datasetRoots).toEqual(["/a", "/b/c"]);
  });
});

describe("server paths", () => {
  it("resolves a relative root against the data folder only for the trainer", () => {
    const spec = parseSpec(cifar("cifar-10-batches-bin"));
    expect(specForTrainer(spec, "/srv/d").dataset.root).toBe("/srv/d/cifar-10-batches-bin");
    expect(specForTrainer(parseSpec(cifar("/datasets/c")), "/srv/d").dataset.root).toBe("/datasets/c");
  });

  it("reports paths relative to the data folder in events and messages", () => {
    expect(withoutDataDir("CIFAR-10 batch file not found: /srv/d/cifar/data_batch_1.bin", "/srv/d")).toBe(
      "CIFAR-10 batch file not found: cifar/data_batch_1.bin",
    );
    const saved = eventWithoutDataDir(
      { type: "checkpoint.saved", epoch: 1, step: 4, location: "/srv/d/runs/run_1/checkpoints/epoch-1" },
      "/srv/d/",
    );
    expect(saved).toEqual({
      type: "checkpoint.saved",
      epoch: 1,
      step: 4,
      location: "runs/run_1/checkpoints/epoch-1",
    });
    const failed = eventWithoutDataDir(runFailed("failed_setup", "not found: /srv/d/cifar/x.bin"), "/srv/d");
    expect(failed).toMatchObject({ type: "run.failed", message: "not found: cifar/x.bin" });
  });
});
