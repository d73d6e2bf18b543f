import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type { UiAssets } from "../../routes/ui/index.ts";
import { UI_DIR, UI_DIST, UI_FILES } from "./dist.ts";

/**
 * The dashboard's bundle: src/ui/main.tsx (Preact, uPlot, the typed client) and src/ui/styles.css
 * into two files under src/ui/dist/, checked in like openapi/openapi.json so the server needs no
 * build tool at run time (esbuild is a devDependency); a test rebuilds in memory and fails when
 * the checked-in files are stale. `npm run ui:build` writes them.
 */
export async function buildUi(): Promise<UiAssets> {
  const result = await build({
    entryPoints: { app: join(UI_DIR, "main.tsx"), styles: join(UI_DIR, "styles.css") },
    bundle: true,
    write: false,
    outdir: UI_DIST,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    // Deterministic output: no source map or comment that carries a path of this machine.
    sourcemap: false,
    legalComments: "none",
    jsx: "automatic",
    jsxImportSource: "preact",
    tsconfig: join(UI_DIR, "tsconfig.json"),
    logLevel: "silent",
  });
  const text = (name: string) => {
    const file = result.outputFiles.find((f) => f.path === join(UI_DIST, name));
    if (!file) throw new Error(`esbuild wrote no ${name}`);
    return file.text;
  };
  return { script: text(UI_FILES.script), styles: text(UI_FILES.styles) };
}

async function main() {
  const bundle = await buildUi();
  await mkdir(UI_DIST, { recursive: true });
  await writeFile(join(UI_DIST, UI_FILES.script), bundle.script);
  await writeFile(join(UI_DIST, UI_FILES.styles), bundle.styles);
  const kib = (text: string) => `${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB`;
  console.log(
    `src/ui/dist: ${UI_FILES.script} ${kib(bundle.script)}, ${UI_FILES.styles} ${kib(bundle.styles)}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
