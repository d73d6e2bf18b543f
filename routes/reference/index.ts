import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../src/services.ts";
import { accessCheck } from "../common/access.ts";
import { REFERENCE_STYLES, referencePage } from "./page.ts";

export const REFERENCE_STYLES_PATH = "/reference/styles.css";

/** No script at all; its one stylesheet and links are this server's. */
export const REFERENCE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

/**
 * /reference: the API reference page, HTML rendered here from the same document as /openapi.json
 * (routes/reference/page.ts), and its stylesheet. Public and outside the document, like /ui.
 */
export function registerReference(app: OpenAPIHono<AppEnv>, document: () => object) {
  const anyone = accessCheck("public");
  // The document is fixed once the routes are registered: render the page at its first request.
  let page: string | undefined;
  app.get("/reference", anyone, (c) => {
    page ??= referencePage(document(), REFERENCE_STYLES_PATH);
    c.header("Content-Security-Policy", REFERENCE_CSP);
    c.header("Cache-Control", "no-cache");
    return c.html(page);
  });
  app.get(REFERENCE_STYLES_PATH, anyone, (c) => {
    c.header("Content-Security-Policy", REFERENCE_CSP);
    c.header("Cache-Control", "no-cache");
    return c.body(REFERENCE_STYLES, 200, { "Content-Type": "text/css; charset=utf-8" });
  });
}
