import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      env: { ...process.env, AUTOPROG_BACKEND: "wasm" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("autoprog train", () => {
  it("rejects a bad spec with every wrong field and exit code 2", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-cli-"));
    const specPath = join(dir, "bad.json");
    await writeFile(
      specPath,
      JSON.stringify({ name: "x", dataset: { name: "svhn" }, training: { epochs: 0 } }),
    );
    const { code, stderr } = await cli(["train", specPath]);
    expect(code).toBe(2);
    expect(stderr).toContain("dataset.name");
    expect(stderr).toContain("training.epochs");
  });

  it("trains a tiny spec and writes the result JSON with the documented fields", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-cli-"));
    const specPath = join(dir, "tiny.json");
    const out = join(dir, "result.json");
    await writeFile(
      specPath,
      JSON.stringify({
        name: "tiny",
        dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
        model: { variant: "micro", patchSize: 7, width: 16, depth: 2, heads: 2, mlpRatio: 2 },
        training: { epochs: 2, stages: 2, batchSize: 32, warmupEpochs: 0 },
        arms: [{ arm: "original" }, { arm: "prog", label: "prog-identity", operator: "identity" }],
      }),
    );
    const { code, stdout } = await cli([
      "train",
      specPath,
      "--arm",
      "prog-identity",
      "--out",
      out,
      "--no-progress",
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/backend wasm/);
    const result = JSON.parse(await readFile(out, "utf8"));
    for (const key of [
      "arm",
      "backend",
      "top1",
      "bestTop1",
      "wallSeconds",
      "flopsPerStepMean",
      "flopsFull",
      "epochs",
      "history",
      "stages",
    ]) {
      expect(result).toHaveProperty(key);
    }
    expect(result.arm).toBe("prog-identity");
  });
});
