import { afterEach, describe, expect, it } from "vitest";
import { PROBLEMS } from "../../routes/common/problem.ts";
import { REFERENCE_CSP, REFERENCE_STYLES_PATH } from "../../routes/reference/index.ts";
import { escapeHtml } from "../../routes/reference/page.ts";
import { type TestApp, testApp } from "./helpers.ts";

let t: TestApp | undefined;
afterEach(() => t?.close());

/** Marks of the documentation vendor the page used to embed, its promotions, and CDNs. */
const VENDOR_WORDS = /@scalar|scalar\.com|api-reference|ask ai|generate sdks|\bmcp\b|cdn\.|jsdelivr|unpkg/i;

interface Document {
  paths: Record<string, Record<string, { operationId?: string; parameters?: { name: string }[] }>>;
  webhooks: Record<string, { post: { operationId: string } }>;
  components: { schemas: Record<string, unknown> };
}

describe("the API reference page", () => {
  it("is one HTML page and a stylesheet from this server, no script, without a key", async () => {
    t = testApp();
    const page = await t.app.request("/reference", { headers: { authorization: "" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toBe(REFERENCE_CSP);
    expect(REFERENCE_CSP).not.toMatch(/script-src|unsafe|https?:|\*/);
    const html = await page.text();
    expect(html).not.toContain("<script");
    // Every link and resource is a fragment of the page or a path of this server.
    const targets = [...html.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => m[1] ?? "");
    expect(targets.length).toBeGreaterThan(100);
    expect(targets.filter((target) => !/^(#|\/(?!\/)|data:,$)/.test(target))).toEqual([]);
    expect(html).not.toMatch(VENDOR_WORDS);
    expect(html).toContain(`<link rel="stylesheet" href="${REFERENCE_STYLES_PATH}">`);
    const styles = await t.app.request(REFERENCE_STYLES_PATH);
    expect(styles.status).toBe(200);
    expect(styles.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const css = await styles.text();
    expect(css).not.toMatch(/url\(|@import|https?:/);
    expect(css).not.toMatch(VENDOR_WORDS);
  });

  it("documents every operation, parameter, webhook, named schema and problem type of /openapi.json", async () => {
    t = testApp();
    const document = (await (await t.app.request("/openapi.json")).json()) as Document;
    const html = await (await t.app.request("/reference")).text();
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item));
    expect(operations.length).toBeGreaterThan(20);
    for (const operation of operations) {
      expect(html).toContain(`id="op-${operation.operationId}"`);
      for (const parameter of operation.parameters ?? [])
        expect(html).toContain(`<code>${parameter.name}</code>`);
    }
    for (const [event, item] of Object.entries(document.webhooks)) {
      expect(html).toContain(`id="op-${item.post.operationId}"`);
      expect(html).toContain(event);
    }
    for (const name of Object.keys(document.components.schemas)) {
      expect(html).toContain(`id="schema-${name}"`);
      // Every reference to a schema lands on its section.
      expect(html).toContain(`href="#schema-${name}"`);
    }
    for (const [code, { status }] of Object.entries(PROBLEMS)) {
      expect(html).toMatch(new RegExp(`<td><code>${code}</code></td><td>${status}</td>`));
    }
    // Grouped by tag, with the documentation's own words.
    expect(html).toContain('<section id="tag-experiments"><h2>experiments</h2>');
    expect(html).toContain("Submit an experiment");
  });

  it("escapes the document's text", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});
