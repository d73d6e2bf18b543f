import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVER_KEY, type ServerProcess, startServer } from "../../support/server-process.ts";
import { findChromium, TINY_AUTOPROG_SPEC } from "./browser.ts";

// Throws (with the install command) when CI is set and Chromium is missing; null skips locally.
const executablePath = findChromium();
const SCREENSHOTS = join("data", "screenshots");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
/** Evaluated in the page (a string: this file is type-checked without the DOM library). */
const KEPT_KEY = "sessionStorage.getItem('autoprog.apiKey')";

describe.skipIf(executablePath === null)("the dashboard in a real Chromium", () => {
  let dataDir: string;
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const foreign: string[] = [];
  const problems: string[] = [];
  let experimentUrl = "";

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "autoprog-ui-"));
    await mkdir(SCREENSHOTS, { recursive: true });
    [server, browser] = await Promise.all([
      startServer(dataDir),
      chromium.launch({ executablePath: executablePath ?? undefined }),
    ]);
    context = await browser.newContext({ viewport: DESKTOP });
    const origin = new URL(server.url).origin;
    // Every request of every page, the bundle's included: none may leave this server.
    context.on("request", (request) => {
      const url = new URL(request.url());
      if (url.protocol !== "data:" && url.origin !== origin) foreign.push(request.url());
    });
    page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // CSP violations are console errors ("Refused to …"); the 401 and 422 asked for above are
      // logged as failed resources and are expected.
      const text = message.text();
      if (message.type() === "error" && !text.startsWith("Failed to load resource")) problems.push(text);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses a wrong key with a clear message, then signs in", async () => {
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel("API key").fill(`ap_${"wrong".padEnd(43, "x")}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("refused this key (401)");
    await page.getByLabel("API key").fill(SERVER_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Experiments" }).waitFor();
    expect(await page.evaluate(KEPT_KEY)).toBe(SERVER_KEY);
  });

  it("validates a spec, shows field errors by pointer, then submits a tiny autoprog spec", async () => {
    await page.getByRole("link", { name: "New experiment" }).first().click();
    const editor = page.getByLabel("Spec (JSON)");
    await expect.poll(() => editor.inputValue()).toContain('"mnist-micro"');
    const bad = { ...TINY_AUTOPROG_SPEC, training: { ...TINY_AUTOPROG_SPEC.training, epochs: 0 } };
    await editor.fill(JSON.stringify(bad, null, 2));
    await page.getByRole("button", { name: "Validate" }).click();
    await expect.poll(() => page.getByTestId("spec-errors").textContent()).toContain("/training/epochs");

    await editor.fill(JSON.stringify(TINY_AUTOPROG_SPEC, null, 2));
    await page.getByRole("button", { name: "Validate" }).click();
    await expect.poll(() => page.getByTestId("plan").textContent()).toContain("chosen by the search");
    await page.getByRole("button", { name: "Submit" }).click();
    await page.getByTestId("report-table").waitFor();
    experimentUrl = page.url();
    expect(experimentUrl).toMatch(/\/ui\/experiments\/exp_/);
  });

  it("follows the run live, survives a reload without duplicated points, and ends with growth and search", async () => {
    await page.locator('[data-testid="run-row"] a').first().click();
    await page.waitForURL(/\/ui\/runs\/run_/);
    const points = async () => Number(await page.getByTestId("loss-chart").getAttribute("data-points"));
    await expect.poll(points, { timeout: 120_000 }).toBeGreaterThanOrEqual(1);
    const before = await points();
    const endedEarly = (await page.getByTestId("outcome").count()) > 0;
    if (!endedEarly) {
      // A new epoch arrives over SSE without any reload.
      await expect.poll(points, { timeout: 120_000 }).toBeGreaterThan(before);
    }
    // On a fast machine the run may end first; the reload then checks a finished run's replay.
    if ((await page.getByTestId("outcome").count()) > 0) console.warn("the run ended before the reload");
    await page.reload();
    await expect.poll(points, { timeout: 60_000 }).toBeGreaterThanOrEqual(before);
    await expect
      .poll(() => page.getByTestId("outcome").textContent(), { timeout: 180_000 })
      .toContain("completed");

    expect(await points()).toBe(TINY_AUTOPROG_SPEC.training.epochs);
    const seqs = await page
      .getByTestId("event-log")
      .locator("li")
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-seq")));
    expect(new Set(seqs).size).toBe(seqs.length);
    const epochLines = await page
      .getByTestId("event-log")
      .locator("li", { hasText: "epoch.completed" })
      .count();
    expect(epochLines).toBe(TINY_AUTOPROG_SPEC.training.epochs);
    expect(await page.getByTestId("growth-band").count()).toBe(2);
    await expect.poll(() => page.getByTestId("growth-timeline").textContent()).toMatch(/FLOPs\/img/);
    const scatter = page.getByTestId("search-scatter").first();
    await scatter.waitFor();
    expect(await scatter.locator('circle[data-chosen="true"]').count()).toBe(1);
    expect(await scatter.textContent()).toMatch(/w = -?\d/);

    await page.screenshot({ path: join(SCREENSHOTS, "run-desktop.png"), fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(SCREENSHOTS, "run-phone.png"), fullPage: true });
    await page.setViewportSize(DESKTOP);
  });

  it("shows the experiment's report as the paper's table and its top-1 chart", async () => {
    await page.goto(experimentUrl);
    const row = page.locator('[data-testid="report-row"][data-arm="autoprog"]');
    await row.waitFor();
    expect(await row.locator('[data-col="top1"]').textContent()).toMatch(/^\d+\.\d\d%$/);
    expect(await row.textContent()).toMatch(/1\/1/);
    await expect
      .poll(async () => Number(await page.getByTestId("experiment-chart").getAttribute("data-points")))
      .toBe(TINY_AUTOPROG_SPEC.training.epochs);
    await page.screenshot({ path: join(SCREENSHOTS, "experiment-desktop.png"), fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(SCREENSHOTS, "experiment-phone.png"), fullPage: true });
    // Nothing wider than the phone's screen but the tables' own scroll boxes.
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(PHONE.width);
  });

  it("downloads the run's model as safetensors and forks the run from its last stage", async () => {
    await page.goto(experimentUrl);
    await page.locator('[data-testid="report-row"][data-arm="autoprog"]').getByRole("link").first().click();
    const button = page.getByTestId("model-download");
    await expect.poll(() => button.isEnabled(), { timeout: 60_000 }).toBe(true);
    const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
    expect(download.suggestedFilename()).toMatch(/^run_\w+-online\.safetensors$/);
    const file = await readFile(await download.path());
    const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString("utf8"));
    expect(header.__metadata__).toMatchObject({ weights: "online", arm: "autoprog" });

    const parentUrl = page.url();
    await page.getByTestId("fork-run").click();
    await page.waitForURL((url) => url.href !== parentUrl && url.pathname.startsWith("/ui/runs/"));
    await expect
      .poll(() => page.locator("main p.mono").first().textContent())
      .toMatch(/fork of run_\w+ after epoch 3/);
  });

  it("loaded nothing from another host and broke no rule of its Content-Security-Policy", () => {
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("signs out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(KEPT_KEY)).toBeNull();
  });
});
