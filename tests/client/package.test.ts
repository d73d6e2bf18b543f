import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * `autoprog/client` as another project gets it: a fresh folder whose node_modules/autoprog is this
 * repository (as `npm install <path>` links it), importing the package by name. It resolves
 * through package.json's `exports` to dist/client, which `npm run build` writes (`npm test` runs
 * it first). Plain Node must run it, and `tsc --strict` projects must compile against it.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const exec = promisify(execFile);

let dir: string;
beforeAll(async () => {
  await access(join(ROOT, "dist/client/src/client/index.js")).catch(() => {
    throw new Error("dist/client is missing: run `npm run build` (npm test runs it before the tests)");
  });
  dir = await mkdtemp(join(tmpdir(), "autoprog-package-"));
  await mkdir(join(dir, "node_modules"));
  await symlink(ROOT, join(dir, "node_modules", "autoprog"), "dir");
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A program that drives the client against a fetch of its own: health, a 401, and a plan. */
const PROGRAM = `
import { ApiError, createAutoprogClient, DEFAULT_API_URL, followRunEvents, unwrap } from "autoprog/client";

const seen = [];
const client = createAutoprogClient({
  api: "http://autoprog.test",
  key: "ap_test",
  fetch: async (request) => {
    seen.push(request.method + " " + new URL(request.url).pathname + " " + request.headers.get("authorization"));
    if (new URL(request.url).pathname === "/v1/experiments") {
      const problem = { type: "urn:autoprog:problem:unauthenticated", title: "A valid API key is required",
        status: 401, instance: "/v1/experiments", code: "unauthenticated", requestId: "r1" };
      return new Response(JSON.stringify(problem), { status: 401, headers: { "content-type": "application/problem+json" } });
    }
    return new Response(JSON.stringify({ status: "ok" }), { headers: { "content-type": "application/json" } });
  },
});
const health = unwrap(await client.GET("/healthz"));
let failure = null;
try {
  unwrap(await client.GET("/v1/experiments"));
} catch (error) {
  failure = error instanceof ApiError ? error.status + " " + error.message : String(error);
}
console.log(JSON.stringify({ health, failure, seen, api: DEFAULT_API_URL, follow: typeof followRunEvents }));
`;

describe("autoprog/client from plain Node", () => {
  it("imports by name and runs: typed calls, the key sent, problems as ApiError", async () => {
    await writeFile(join(dir, "program.mjs"), PROGRAM);
    const { stdout } = await exec(process.execPath, ["program.mjs"], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual({
      health: { status: "ok" },
      failure: "401 A valid API key is required",
      seen: ["GET /healthz Bearer ap_test", "GET /v1/experiments Bearer ap_test"],
      api: "http://127.0.0.1:8787",
      follow: "function",
    });
  });
});

/** Typed use of the package: each call has one success type, no narrowing. */
const USAGE = `
import { createAutoprogClient, followRunEvents, unwrap, type components } from "autoprog/client";

type Spec = components["schemas"]["ExperimentSpecInput"];

export async function submit(spec: Spec): Promise<string[]> {
  const client = createAutoprogClient({ api: "http://127.0.0.1:8787", key: "ap_x" });
  const plan = unwrap(await client.POST("/v1/experiments/validate", { body: spec }));
  const flops: (number | null)[] = plan.arms.map((arm) => arm.flopsSpeedup);
  const experiment = unwrap(
    await client.POST("/v1/experiments", { body: spec, params: { header: { "Idempotency-Key": "k-1" } } }),
  );
  const ids: string[] = experiment.runs.map((run) => run.id);
  for await (const { event } of followRunEvents(client, ids[0] ?? "")) {
    if (event.type === "epoch.completed") console.log(event.epoch, flops.length);
  }
  return ids;
}
`;

/** A wrong call must not compile: the package's types are real, not \`any\`. */
const WRONG = `
import { createAutoprogClient, unwrap } from "autoprog/client";
const client = createAutoprogClient();
export const plan = unwrap(await client.POST("/v1/experiments/validate", { body: { name: 1 } }));
export const runs: number = unwrap(await client.POST("/v1/experiments", { body: { name: "x" } as never })).runs;
`;

/** What \`tsc --init\` (TypeScript 5.9) writes, with our declarations checked too (no skipLibCheck). */
const TSC_INIT = {
  module: "nodenext",
  target: "esnext",
  types: [],
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  strict: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  noUncheckedSideEffectImports: true,
  moduleDetection: "force",
  skipLibCheck: false,
};

// tsc is a fresh process per case: seconds on an idle machine, minutes on a loaded one.
describe("autoprog/client from a strict TypeScript project", { timeout: 600_000 }, () => {
  async function typecheck(name: string, source: string, compilerOptions: object) {
    const folder = join(dir, name);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "usage.ts"), source);
    await writeFile(
      join(folder, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, files: ["usage.ts"] }),
    );
    try {
      await exec(process.execPath, [TSC, "-p", folder], { cwd: folder });
      return { code: 0, output: "" };
    } catch (error) {
      const failure = error as { code?: number; stdout?: string };
      return { code: failure.code ?? 1, output: failure.stdout ?? String(error) };
    }
  }

  it.each([
    ["tsc --init's options", TSC_INIT],
    ["only --strict and --module nodenext", { strict: true, module: "nodenext" }],
    [
      "--strict for a bundler (--module preserve --target es2022)",
      { strict: true, module: "preserve", target: "es2022" },
    ],
  ])("compiles with 0 errors under %s", async (name, options) => {
    const result = await typecheck(name.replace(/\W+/g, "-"), USAGE, options);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  it("refuses a wrong body and a wrong result type", async () => {
    const result = await typecheck("wrong", WRONG, TSC_INIT);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/usage\.ts\(4,\d+\): error TS2322/);
    expect(result.output).toMatch(/usage\.ts\(5,\d+\): error TS2322/);
    expect(result.output.match(/error TS/g)).toHaveLength(2);
  });
});
