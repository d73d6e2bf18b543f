import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { OpenAPI3 } from "openapi-typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderSdk, renderSdkTypes, SDK_SCHEMA_FILE } from "../../openapi/sdk/generate.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const exec = promisify(execFile);

describe("the generated SDK", () => {
  it("the checked-in openapi/sdk/schema.ts is current (run `npm run sdk` after `npm run openapi`)", async () => {
    expect(await readFile(SDK_SCHEMA_FILE, "utf8")).toBe(await renderSdk());
  });
});

/**
 * The generator and openapi-fetch together, on their own: types generated from a minimal
 * document into a fresh folder, a usage file, and `tsc --strict` run there the way a user's
 * project would. A right call must compile and a wrong one must not.
 */
// tsc is a fresh process per test: seconds on an idle machine, minutes on a loaded one.
describe("a client generated from a minimal spec", { timeout: 600_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "autoprog-sdk-"));
    const document = JSON.parse(
      await readFile(join(ROOT, "tests/client/fixtures/minimal-openapi.json"), "utf8"),
    );
    await writeFile(join(dir, "schema.ts"), await renderSdkTypes(document as OpenAPI3));
    // The folder resolves openapi-fetch and @types/node from this repository's node_modules
    // (skipLibCheck below spares re-checking their .d.ts files; schema.ts is still checked).
    await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function typecheck(usage: string): Promise<{ code: number; output: string }> {
    await writeFile(join(dir, "usage.ts"), usage);
    const args = [
      TSC,
      "--strict",
      "--noEmit",
      "--skipLibCheck",
      "--target",
      "es2022",
      "--module",
      "nodenext",
    ];
    args.push("--moduleResolution", "nodenext", "--types", "node", "usage.ts");
    try {
      const { stdout } = await exec(process.execPath, args, { cwd: dir });
      return { code: 0, output: stdout };
    } catch (error) {
      const e = error as { code: number; stdout: string };
      return { code: e.code, output: e.stdout };
    }
  }

  const header = `import createClient from "openapi-fetch";
import type { paths } from "./schema.js";
const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8787" });
`;

  it("typechecks a correct call with tsc --strict", async () => {
    const { code, output } = await typecheck(`${header}
export async function main(): Promise<string> {
  const { data, error } = await client.GET("/v1/runs/{id}", { params: { path: { id: "run_1" } } });
  if (error) return error.title;
  const state: "queued" | "running" | "completed" = data.state;
  const top1: number | null = data.top1;
  const created = await client.POST("/v1/runs", { body: { epochs: 2, arm: "prog" } });
  return \`\${state} \${top1 ?? "-"} \${created.data?.id ?? ""}\`;
}
`);
    expect(output).toBe("");
    expect(code).toBe(0);
  });

  it("rejects wrong calls: a missing path parameter, a bad enum value, an unknown field", async () => {
    const { code, output } = await typecheck(`${header}
export async function main() {
  await client.GET("/v1/runs/{id}", { params: { path: {} } });
  await client.POST("/v1/runs", { body: { epochs: 2, arm: "autoprog" } });
  const { data } = await client.GET("/v1/runs/{id}", { params: { path: { id: "r" } } });
  return data?.accuracy;
}
`);
    expect(code).not.toBe(0);
    const lines = output.split("\n").filter((line) => line.startsWith("usage.ts("));
    expect(lines.map((line) => line.match(/^usage\.ts\((\d+),/)?.[1])).toEqual(["6", "7", "9"]);
    expect(output).toContain("Property 'id' is missing");
    expect(output).toContain(`Type '"autoprog"' is not assignable`);
    expect(output).toContain("Property 'accuracy' does not exist");
  });
});
