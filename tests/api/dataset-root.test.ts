import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDatasetRoot } from "../../routes/experiments/dataset-root.ts";
import { parseSpec } from "../../src/core/spec.ts";
import { resolveSymlinks } from "../../src/data/real-path.ts";
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

  it("follows the configured roots", async () => {
    const policy = { dataDir: "/srv/autoprog", allowed: ["/datasets", "/srv/autoprog"] };
    await expect(checkDatasetRoot("cifar", policy)).resolves.toBeUndefined();
    await expect(checkDatasetRoot("/datasets/cifar", policy)).resolves.toBeUndefined();
    await expect(checkDatasetRoot("/datasets-other/cifar", policy)).rejects.toThrow();
    await expect(checkDatasetRoot("/srv/autoprog/../secrets", policy)).rejects.toThrow();
    await expect(
      checkDatasetRoot("cifar", { dataDir: "/srv/autoprog", allowed: ["/datasets"] }),
    ).rejects.toThrow();
  });

  it("reads AUTOPROG_DATASET_ROOTS, defaulting to the data folder", () => {
    expect(loadSettings({ AUTOPROG_DATA_DIR: "/srv/d" }).datasetRoots).toEqual(["/srv/d"]);
    expect(loadSettings({ AUTOPROG_DATASET_ROOTS: "/a:/b/c" }).datasetRoots).toEqual(["/a", "/b/c"]);
  });
});

describe("dataset.root through symlinks (real folders in a temp dir)", () => {
  let dir: string;
  let policy: { dataDir: string; allowed: string[]; realpath: typeof resolveSymlinks };
  beforeEach(async () => {
    // <dir>/data (the data folder, allowed), <dir>/datasets (allowed, reached through a link),
    // <dir>/outside (not allowed), and links inside the data folder pointing in and out.
    dir = await mkdtemp(join(tmpdir(), "autoprog-roots-"));
    for (const folder of ["data/cifar", "datasets-real/c", "outside/secrets"])
      await mkdir(join(dir, folder), { recursive: true });
    await symlink(join(dir, "datasets-real"), join(dir, "datasets"));
    await symlink(join(dir, "outside"), join(dir, "data", "escape"));
    await symlink(join(dir, "data", "cifar"), join(dir, "data", "alias"));
    await symlink(join(dir, "nowhere"), join(dir, "data", "dangling"));
    await symlink(join(dir, "data", "loop"), join(dir, "data", "loop"));
    policy = {
      dataDir: join(dir, "data"),
      allowed: [join(dir, "data"), join(dir, "datasets")],
      realpath: resolveSymlinks,
    };
    t.close();
    t = testApp({ datasetRoots: policy });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.each(["escape", "escape/secrets", "escape/not-there", "alias/../escape", "dangling", "loop/x"])(
    "refuses %s (a link inside the data folder leading out, broken or looping) and writes nothing",
    async (root) => {
      const before = await tableCounts(t.db);
      const problem = await expectProblem(
        await t.post("/v1/experiments", cifar(root)),
        422,
        "validation_failed",
      );
      expect(problem.errors).toMatchObject([{ path: "dataset.root" }]);
      expect(JSON.stringify(problem)).not.toContain(dir);
      expect(await tableCounts(t.db)).toEqual(before);
    },
  );

  it("accepts real folders, links that stay inside, an allowed root reached through a link, and paths not there yet", async () => {
    for (const root of ["cifar", "alias", "not-there-yet/x", join(dir, "datasets", "c")]) {
      expect((await t.post("/v1/experiments", cifar(root))).status, root).toBe(201);
    }
  });

  it("resolves the deepest existing part and appends the rest", async () => {
    expect(await resolveSymlinks(join(dir, "data", "escape", "a", "b"))).toBe(join(dir, "outside", "a", "b"));
    expect(await resolveSymlinks(join(dir, "datasets", "c"))).toBe(join(dir, "datasets-real", "c"));
    expect(await resolveSymlinks(join(dir, "data", "dangling"))).toBeNull();
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
