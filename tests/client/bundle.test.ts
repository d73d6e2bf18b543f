import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

/**
 * `autoprog/client` runs wherever fetch does (browsers, Workers, Node): bundled for a neutral
 * platform it may pull in neither Node built-ins, tfjs, better-sqlite3, nor any server code
 * (routes, db, trainer, dispatch); the packages it does use are listed exactly.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVER_FOLDERS =
  /^(routes|db|src\/(train|model|data|backend|dispatch|worker|events|node|app|cloudflare))\b/;

function recordImports(packages: Set<string>, forbidden: string[]): Plugin {
  return {
    name: "record-imports",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const from = args.importer.replace(ROOT, "");
        if (args.path.startsWith(".")) {
          const target = fileURLToPath(new URL(args.path, `file://${args.importer}`)).replace(ROOT, "");
          if (SERVER_FOLDERS.test(target)) forbidden.push(`${target} (imported by ${from})`);
          return undefined;
        }
        const bare = args.path.replace(/^node:/, "");
        if (args.path.startsWith("node:") || builtinModules.includes(bare.split("/")[0] ?? "")) {
          forbidden.push(`${args.path} (imported by ${from})`);
          return { path: args.path, external: true };
        }
        if (from.startsWith("src/") || from.startsWith("openapi/")) packages.add(args.path);
        return undefined;
      });
    },
  };
}

describe("autoprog/client", () => {
  it("bundles for a neutral platform from openapi-fetch, eventsource-parser and zod alone", async () => {
    const packages = new Set<string>();
    const forbidden: string[] = [];
    const result = await build({
      entryPoints: [fileURLToPath(new URL("../../src/client/index.ts", import.meta.url))],
      bundle: true,
      write: false,
      platform: "neutral",
      format: "esm",
      mainFields: ["module", "main"],
      conditions: ["import", "default"],
      logLevel: "silent",
      plugins: [recordImports(packages, forbidden)],
    });
    expect(result.errors).toEqual([]);
    expect(forbidden).toEqual([]);
    expect([...packages].sort()).toEqual(["eventsource-parser", "openapi-fetch", "zod"]);
  });
});
