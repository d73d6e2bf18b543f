import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

/**
 * The request path must run on runtimes that are not Node (Cloudflare Workers with D1): the
 * HTTP app with its routes, the db repositories, the event sink/hub/follower and the run queue
 * are bundled for a neutral platform, and nothing Node-only may be pulled in. The Workers entry's
 * real bundle (`npm run cf:build`, wrangler) is checked in tests/cloudflare/worker.test.ts, and
 * each core file's imports in tests/app/boundary.test.ts.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const ENTRY = `
export { createApp, openApiDocument } from "./src/app.ts";
export { default as cloudflare } from "./src/cloudflare.ts";
export { StoredEventSink } from "./src/events/sink.ts";
export { InMemoryEventHub } from "./src/events/hub.ts";
export { followRun } from "./src/events/follow.ts";
export { sqlRunQueue } from "./src/dispatch/queue.ts";
export { Dispatcher } from "./src/dispatch/dispatcher.ts";
export * as events from "./db/events.ts";
export * as derived from "./db/derived.ts";
export * as experiments from "./db/experiments.ts";
export * as rows from "./db/experiment-rows.ts";
export * as idempotency from "./db/idempotency.ts";
export * as queue from "./db/queue.ts";
export * as runs from "./db/runs.ts";
`;

const BUILTINS = new Set(builtinModules);
const FORBIDDEN_PACKAGES = [/^better-sqlite3/, /^@tensorflow\//, /^@hono\/node-server/];

/** Records every import of a Node built-in or a Node-only package, with who imported it. */
function forbiddenImports(found: string[]): Plugin {
  return {
    name: "forbidden-imports",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, "");
        const forbidden =
          args.path.startsWith("node:") ||
          BUILTINS.has(bare) ||
          BUILTINS.has(bare.split("/")[0] ?? "") ||
          FORBIDDEN_PACKAGES.some((p) => p.test(args.path));
        if (!forbidden) return undefined;
        found.push(`${args.path} (imported by ${args.importer.replace(ROOT, "")})`);
        return { path: args.path, external: true };
      });
    },
  };
}

describe("the request path", () => {
  it("bundles for a neutral platform without tfjs, better-sqlite3, worker_threads or node: modules", async () => {
    const found: string[] = [];
    const result = await build({
      stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: "neutral-entry.ts", loader: "ts" },
      bundle: true,
      write: false,
      platform: "neutral",
      format: "esm",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "import", "default"],
      logLevel: "silent",
      plugins: [forbiddenImports(found)],
    });
    expect(result.errors).toEqual([]);
    expect(found).toEqual([]);
    const code = result.outputFiles?.[0]?.text ?? "";
    expect(code).toContain("run_events");
  });
});
