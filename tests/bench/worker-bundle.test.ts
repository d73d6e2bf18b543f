import { type ChildProcess, spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * bench/gpu-worker-check.sh ships the CLI as one esbuild bundle (API and pull worker) to a GPU
 * machine with no Node toolchain. Bundled, every module shares the entry's import.meta.url, so
 * code that asks "am I the main module?" answers yes everywhere; src/node.ts once did and started
 * a second server with default settings beside `autoprog serve`.
 */
let dir = "";
let server: ChildProcess | null = null;

beforeAll(async () => {
  // Two levels below the checkout, as .gpu/cli/ is: the dashboard is read from ../../src/ui/dist
  // and node_modules (better-sqlite3) is found by walking up.
  await mkdir("data", { recursive: true });
  dir = resolve(await mkdtemp(join("data", "worker-bundle-")));
  await cp("db/migrations", join(dir, "migrations"), { recursive: true });
});
afterAll(async () => {
  server?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** The environment without the settings the flags stand for, so a default-settings server would use ./data. */
function withoutDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { AUTOPROG_DATA_DIR: _dataDir, AUTOPROG_PORT: _port, ...rest } = env;
  return { ...rest, AUTOPROG_PORT: "0" };
}

describe("the CLI as the GPU worker bundle", () => {
  it("serves with its own flags only: one server, on the data folder it was given", async () => {
    const result = await build({
      entryPoints: ["src/cli/main.ts"],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: join(dir, "entry.mjs"),
      external: ["webgpu", "better-sqlite3"],
      logLevel: "silent",
      banner: {
        js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);",
      },
    });
    expect(result.errors).toEqual([]);

    const dataDir = join(dir, "api");
    const proc = spawn(
      process.execPath,
      [join(dir, "entry.mjs"), "serve", "--port", "0", "--data-dir", dataDir],
      {
        cwd: dir,
        env: { ...withoutDefaults(process.env), AUTOPROG_DISPATCH: "workers", AUTOPROG_LOG_FORMAT: "json" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    server = proc;
    let output = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    proc.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const deadline = Date.now() + 30_000;
    while (!output.includes('"listening"') && proc.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    // Give a second, unwanted server the same moment to announce itself.
    await new Promise((r) => setTimeout(r, 1_000));
    const listening = output.split("\n").filter((line) => line.includes('"listening"'));
    expect(listening, output).toHaveLength(1);
    expect(JSON.parse(listening[0] ?? "{}")).toMatchObject({
      database: join(dataDir, "autoprog.sqlite"),
      dispatch: "workers",
    });
    // Nothing was written under the default ./data of the working directory.
    expect(await readdir(dir)).not.toContain("data");
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    server = null;
  }, 60_000);
});
