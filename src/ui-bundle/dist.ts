import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { UiAssets } from "../../routes/ui/index.ts";

/** Where the dashboard's sources and its checked-in bundle live (no esbuild on this path). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const UI_DIR = join(ROOT, "src", "ui");
export const UI_DIST = join(UI_DIR, "dist");
export const UI_FILES = { script: "app.js", styles: "styles.css" } as const;

/** The checked-in bundle, as the server serves it. */
export async function readUiDist(): Promise<UiAssets> {
  const [script, styles] = await Promise.all([
    readFile(join(UI_DIST, UI_FILES.script), "utf8"),
    readFile(join(UI_DIST, UI_FILES.styles), "utf8"),
  ]);
  return { script, styles };
}
