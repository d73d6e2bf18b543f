import { readdir, readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The boundary between the portable API core (runs on Node over SQLite and on Workers over D1)
 * and the Node-only parts (the trainer, its threads, better-sqlite3, the Node entry), as
 * docs/service.md's "Portable core and Node-only parts" lists it. Each file of the core is read and every
 * import it names (type imports too: a type from the trainer ties the core to it) is checked.
 * tests/app/neutral-bundle.test.ts bundles the same core, and tests/cloudflare/ builds the
 * Workers entry with wrangler; this test names the file and the import that crossed.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The portable API core: folders and files. */
const PORTABLE = [
  "routes",
  "db",
  "src/core",
  // Web-API primitives (encoding, hashing, tokens, sleep, backoff, wake loop); the dashboard and the SDK use them too.
  "src/kit",
  "src/auth",
  "src/events",
  "src/dispatch",
  "src/checkpoints",
  // The settings table and its readers; src/env.ts (Node) and src/cloudflare.ts read through them.
  "src/settings",
  "src/app.ts",
  "src/services.ts",
  "src/openapi-document.ts",
  "src/cloudflare.ts",
];

/** Node-only: the core may not import these (nor do the files inside the folders above count as core). */
const NODE_ONLY = [
  "src/node.ts",
  "src/serve.ts",
  // Node's HTTP server under the app (@hono/node-server), which src/node.ts starts.
  "src/http-listener.ts",
  "src/env.ts",
  // The Node server's log on stdout (text or JSON lines) and its start block.
  "src/start-log.ts",
  "src/cli",
  "src/worker",
  "src/train",
  "src/model",
  "src/data",
  "src/backend",
  "db/sqlite.ts",
  "db/drizzle.config.ts",
  // The embedded dispatcher drives trainer processes; only src/node.ts wires it.
  "src/dispatch/dispatcher.ts",
  // The attempt shell both the dispatcher and pull workers run a trainer process through.
  "src/dispatch/attempt.ts",
  "src/dispatch/server-paths.ts",
  // Builds and reads the dashboard's bundle from disk (the Node entry serves it).
  "src/ui-bundle",
  // The checkpoint store over a directory (the R2 store and the wire format are portable).
  "src/checkpoints/directory-store.ts",
  // undici's connect hook re-checks webhook addresses on Node's sockets.
  "src/events/webhooks/connect-guard.ts",
];

/** Packages that exist only on Node (native addons, Node's HTTP stack, tfjs). */
const NODE_PACKAGES = [/^better-sqlite3/, /^@tensorflow\//, /^@hono\/node-server/, /^undici/, /^webgpu$/];
const BUILTINS = new Set(builtinModules);

const isUnder = (file: string, entry: string) => file === entry || file.startsWith(`${entry}/`);
const isNodeOnly = (file: string) => NODE_ONLY.some((entry) => isUnder(file, entry));

async function sourceFiles(entry: string): Promise<string[]> {
  if (entry.endsWith(".ts")) return [entry];
  const found = await readdir(join(ROOT, entry), { recursive: true, withFileTypes: true });
  return found
    .filter((d) => d.isFile() && d.name.endsWith(".ts"))
    .map((d) => relative(ROOT, join(d.parentPath, d.name)));
}

/** Why an import crosses the boundary, or null when it does not. */
function crossing(importer: string, specifier: string): string | null {
  const bare = specifier.replace(/^node:/, "");
  if (specifier.startsWith("node:") || BUILTINS.has(bare) || BUILTINS.has(bare.split("/")[0] ?? "")) {
    return "a Node built-in";
  }
  if (NODE_PACKAGES.some((p) => p.test(specifier))) return "a Node-only package";
  if (specifier.startsWith(".")) {
    const target = relative(ROOT, join(dirname(join(ROOT, importer)), specifier));
    if (isNodeOnly(target)) return `Node-only ${target}`;
  }
  return null;
}

describe("the portable API core", () => {
  it("imports no Node built-in, no Node-only package and nothing of the Node-only folders", async () => {
    const files = (await Promise.all(PORTABLE.map(sourceFiles))).flat().filter((f) => !isNodeOnly(f));
    expect(files.length).toBeGreaterThan(50);
    const crossings: string[] = [];
    for (const file of files) {
      const source = await readFile(join(ROOT, file), "utf8");
      for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
        const why = crossing(file, fileName);
        if (why) crossings.push(`${file} imports ${fileName} (${why})`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it("names every folder of src/ as core or Node-only", async () => {
    const entries = await readdir(join(ROOT, "src"), { withFileTypes: true });
    const unclassified = entries
      .map((e) => `src/${e.name}`)
      .filter((path) => !PORTABLE.some((p) => isUnder(path, p) || isUnder(p, path)) && !isNodeOnly(path));
    // Neither: the client SDK runs wherever its callers do, the dashboard in the browser
    // (both import nothing of the server).
    expect(unclassified).toEqual(["src/client", "src/ui"]);
  });
});
