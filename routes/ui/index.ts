import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../src/services.ts";
import { accessCheck } from "../common/access.ts";
import { ProblemError } from "../common/problem.ts";

/** The dashboard's built files (src/ui/dist), read by the Node entry; the app itself reads no file. */
export interface UiAssets {
  readonly script: string;
  readonly styles: string;
}

export const UI_SCRIPT_PATH = "/ui/assets/app.js";
export const UI_STYLES_PATH = "/ui/assets/styles.css";

/**
 * Self only: the bundle, its styles and this API. No inline script or style attribute is needed
 * (Preact and uPlot set styles through the CSSOM, which CSP does not govern).
 */
export const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autoprog dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${UI_STYLES_PATH}">
<script type="module" src="${UI_SCRIPT_PATH}"></script>
</head>
<body>
<noscript>The autoprog dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;

/**
 * The dashboard under /ui: one HTML page for every /ui path (the page routes in the browser) and
 * its two assets. Plain Hono routes, outside the OpenAPI document like /reference. Public, like
 * /reference: the page holds no data; every API call it makes carries the user's key.
 */
export function registerUi(app: OpenAPIHono<AppEnv>, assets: UiAssets | undefined) {
  const anyone = accessCheck("public");
  const serve = (c: Context<AppEnv>, body: string, type: string) => {
    if (assets === undefined) throw new ProblemError("not_found", "this server does not serve the dashboard");
    c.header("Content-Security-Policy", UI_CSP);
    // Small files, rebuilt with the code: revalidate rather than cache across upgrades.
    c.header("Cache-Control", "no-cache");
    return c.body(body, 200, { "Content-Type": type });
  };
  app.get("/ui", anyone, (c) => c.redirect("/ui/", 308));
  app.get(UI_SCRIPT_PATH, anyone, (c) => serve(c, assets?.script ?? "", "text/javascript; charset=utf-8"));
  app.get(UI_STYLES_PATH, anyone, (c) => serve(c, assets?.styles ?? "", "text/css; charset=utf-8"));
  app.get("/ui/assets/*", anyone, (c) => {
    throw new ProblemError("not_found", `no asset ${c.req.path}`);
  });
  app.get("/ui/*", anyone, (c) => serve(c, PAGE, "text/html; charset=utf-8"));
}
