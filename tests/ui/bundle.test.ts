import { describe, expect, it } from "vitest";
import { buildUi } from "../../src/ui-bundle/build.ts";
import { readUiDist } from "../../src/ui-bundle/dist.ts";

describe("src/ui/dist", () => {
  it("is the bundle of the current sources (run `npm run ui:build` when this fails)", async () => {
    const [built, checkedIn] = await Promise.all([buildUi(), readUiDist()]);
    expect(checkedIn.script === built.script, "src/ui/dist/app.js is stale: npm run ui:build").toBe(true);
    expect(checkedIn.styles === built.styles, "src/ui/dist/styles.css is stale: npm run ui:build").toBe(true);
  });

  it("holds nothing that reaches another host", async () => {
    const { script, styles } = await readUiDist();
    // Namespace names (SVG) are never fetched; the client's default API URL is replaced by the
    // page's own origin (src/ui/session.ts).
    const hosts = [...`${script}\n${styles}`.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]);
    const allowed = (h: string) => h.startsWith("http://www.w3.org/") || h === "http://127.0.0.1:8787";
    expect(hosts.filter((h) => !allowed(h))).toEqual([]);
    expect(styles).not.toMatch(/@import|url\(\s*["']?https?:/);
  });
});
