import { afterEach, describe, expect, it } from "vitest";
import { UI_CSP, UI_SCRIPT_PATH, UI_STYLES_PATH } from "../../routes/ui/index.ts";
import { type TestApp, testApp } from "./helpers.ts";

const ASSETS = { script: "/* app */", styles: "/* styles */" };
let t: TestApp | undefined;
afterEach(() => t?.close());

describe("the dashboard's files under /ui", () => {
  it.each([
    ["/ui/", "text/html; charset=utf-8"],
    ["/ui/runs/run_1", "text/html; charset=utf-8"],
    ["/ui/experiments/exp_1", "text/html; charset=utf-8"],
    [UI_SCRIPT_PATH, "text/javascript; charset=utf-8"],
    [UI_STYLES_PATH, "text/css; charset=utf-8"],
  ])("GET %s answers %s under the self-only CSP, without a key", async (path, type) => {
    t = testApp({ app: { ui: ASSETS } });
    const response = await t.app.request(path, { headers: { authorization: "" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(type);
    expect(response.headers.get("content-security-policy")).toBe(UI_CSP);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("serves the page that loads only its own two files", async () => {
    t = testApp({ app: { ui: ASSETS } });
    const html = await (await t.app.request("/ui/")).text();
    expect(html).toContain(`<script type="module" src="${UI_SCRIPT_PATH}">`);
    expect(html).toContain(`<link rel="stylesheet" href="${UI_STYLES_PATH}">`);
    expect(html).not.toMatch(/https?:\/\//);
    expect(await (await t.app.request(UI_SCRIPT_PATH)).text()).toBe(ASSETS.script);
    expect(UI_CSP).not.toMatch(/unsafe|https?:|\*/);
  });

  it("redirects /ui to /ui/ and answers 404 for an unknown asset or a server without the bundle", async () => {
    t = testApp({ app: { ui: ASSETS } });
    const redirect = await t.app.request("/ui");
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("/ui/");
    expect((await t.app.request("/ui/assets/other.js")).status).toBe(404);
    t.close();
    t = testApp();
    expect((await t.app.request("/ui/")).status).toBe(404);
  });

  it("stays out of the OpenAPI document, like /reference", async () => {
    t = testApp({ app: { ui: ASSETS } });
    const document = (await (await t.app.request("/openapi.json")).json()) as { paths: object };
    const paths = Object.keys(document.paths);
    expect(paths.filter((p) => p.startsWith("/ui"))).toEqual([]);
  });
});
