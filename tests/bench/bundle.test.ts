import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The GPU check (../shared/gpu/prepare.sh) ships bench/engine.ts as one esbuild bundle to a
 * machine with no node_modules but the `webgpu` addon. Same options as prepare.sh.
 */
const EXTERNAL = ["webgpu", "@tensorflow/tfjs-backend-wasm", "better-sqlite3"];
let dir = "";
let outfile = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprog-bundle-"));
  outfile = join(dir, "entry.mjs");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bench/engine.ts as the GPU bundle", () => {
  it("bundles with prepare.sh's options, leaving only the natives external", async () => {
    const result = await build({
      entryPoints: ["bench/engine.ts"],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      external: EXTERNAL,
      logLevel: "silent",
      banner: {
        js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);",
      },
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
    const packages = new Set(
      imports
        .filter((i) => i.external && !i.path.startsWith("node:") && !builtinModules.includes(i.path))
        .map((i) => i.path),
    );
    // Everything but the natives is inlined and the bench never reaches the database. `encoding`
    // is node-fetch's optional require (inside try/catch, via tfjs-core), left for run time.
    expect([...packages].filter((path) => path !== "encoding").sort()).toEqual([
      "@tensorflow/tfjs-backend-wasm",
      "webgpu",
    ]);
    // The webgpu backend itself is inlined: it must register against the navigator.gpu we set.
    const code = await readFile(outfile, "utf8");
    expect(/registerBackend\(\s*["']webgpu["']/.test(code)).toBe(true);
  });

  it("runs the bundle without node_modules: webgpu skipped with a reason, a cpu case as a JSON line", async () => {
    const run = promisify(execFile);
    const args = [
      "--backends",
      "webgpu,cpu",
      "--cases",
      "micro:8:4:1:2",
      "--steps",
      "1",
      "--emas",
      "1",
      "--json",
    ];
    const { stdout } = await run(process.execPath, [outfile, ...args], { cwd: dir, timeout: 60_000 });
    const lines = stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ backend: "webgpu" });
    // The `webgpu` package is not beside the bundle here; on the GPU machine it is (run.sh).
    expect(String(lines[0]?.error)).toMatch(/^webgpu: (not installed|no adapter \(.+\))$/);
    expect(lines[1]).toMatchObject({
      backend: "cpu",
      variant: "micro",
      side: 8,
      patch: 4,
      channels: 1,
      batch: 2,
    });
    for (const key of ["imagesPerSecond", "gflops", "kernelsPerStep", "msPerStep"])
      expect(lines[1]?.[key]).toBeGreaterThan(0);
    expect(Object.keys(lines[1]?.kernelsByName as object).length).toBeGreaterThan(0);
  });
});
