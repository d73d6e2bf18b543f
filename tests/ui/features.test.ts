import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVER_KEY, type ServerProcess, startServer } from "../../support/server-process.ts";
import { findChromium } from "./browser.ts";
import { type Seeded, seed } from "./seed.ts";

// Throws (with the install command) when CI is set and Chromium is missing; null skips locally.
const executablePath = findChromium();
const SCREENSHOTS = join("data", "screenshots");
const PHONE = { width: 390, height: 844 };
/** The width the report table used to be cut off at. */
const DESKTOP = { width: 1400, height: 900 };
const AUTH = { authorization: `Bearer ${SERVER_KEY}` };
/** Evaluated in the page (strings: this file is type-checked without the DOM library). */
const PAGE_WIDTH = "document.documentElement.scrollWidth";
const PANEL_TEXT = "getComputedStyle(document.querySelector('.panel')).color";
const PAGE_BACKGROUND = "getComputedStyle(document.documentElement).backgroundColor";

/** Waits for what a page shows after its requests answer: generous, for a loaded CI machine. */
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000 });

type Metric = { key: string; step: number; epoch: number | null; value: number };

/** Perceived lightness (0–1) of a CSS `rgb(…)` colour. */
function lightness(rgb: string): number {
  const [r = 0, g = 0, b = 0] = (rgb.match(/\d+(\.\d+)?/g) ?? []).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/** A CSV the page wrote, as rows of fields (the tests' own small RFC 4180 reader). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}

describe.skipIf(executablePath === null)(
  "the dashboard's compare view, export, keys, dark mode and layout",
  () => {
    let dataDir: string;
    let server: ServerProcess;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let seeded: Seeded;
    const foreign: string[] = [];
    const problems: string[] = [];
    const shots: string[] = [];

    const api = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${server.url}${path}`, { headers: AUTH });
      expect(response.status, path).toBe(200);
      return (await response.json()) as T;
    };

    /**
     * Full-page screenshots at the desktop width and on a phone, and at both widths nothing wider
     * than the screen (tables scroll in their own boxes); the viewport is set back after.
     */
    const shoot = async (name: string) => {
      for (const [size, viewport] of [
        ["desktop", DESKTOP],
        ["phone", PHONE],
      ] as const) {
        await page.setViewportSize(viewport);
        expect(await page.evaluate(PAGE_WIDTH), `${name} at ${size} width`).toBeLessThanOrEqual(
          viewport.width,
        );
        const path = join(SCREENSHOTS, `${name}-${size}.png`);
        await page.screenshot({ path, fullPage: true });
        shots.push(path);
      }
      await page.setViewportSize(DESKTOP);
    };

    const downloadText = async (button: Locator): Promise<{ name: string; text: string }> => {
      const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
      const path = await download.path();
      return { name: download.suggestedFilename(), text: await readFile(path, "utf8") };
    };

    /** Drags across the middle of a chart's plot: uPlot zooms x to the selected range. */
    const dragAcross = async (chart: Locator, from: number, to: number) => {
      const box = await chart.locator(".u-over").boundingBox();
      if (!box) throw new Error("the chart has no plot area");
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * from, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * ((from + to) / 2), y, { steps: 4 });
      await page.mouse.move(box.x + box.width * to, y, { steps: 4 });
      await page.mouse.up();
    };
    const xRange = async (chart: Locator): Promise<[number, number]> => [
      Number(await chart.getAttribute("data-x-min")),
      Number(await chart.getAttribute("data-x-max")),
    ];

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), "autoprog-ui-features-"));
      await mkdir(SCREENSHOTS, { recursive: true });
      // No trainer in the server: the tests play the pull worker (./seed.ts).
      [server, browser] = await Promise.all([
        startServer(dataDir, { AUTOPROG_DISPATCH: "workers", AUTOPROG_LEASE_SECONDS: "3600" }),
        chromium.launch({ executablePath: executablePath ?? undefined }),
      ]);
      seeded = await seed(server.url);
      context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
      const origin = new URL(server.url).origin;
      // Every request of every page goes through here: one to another host is recorded and refused.
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) {
          return route.continue();
        }
        foreign.push(url);
        return route.abort("blockedbyclient");
      });
      page = await context.newPage();
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("console", (message) => {
        // The 404s asked for below are logged as failed resources and are expected.
        const text = message.text();
        if (message.type() === "error" && !text.startsWith("Failed to load resource")) problems.push(text);
      });
      await page.goto(`${server.url}/ui/`);
      await page.getByLabel("API key").fill(SERVER_KEY);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Experiments" }).waitFor();
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
      if (shots.length) console.info(`screenshots:\n${shots.join("\n")}`);
    });

    it("says a missing run is not found, opens no stream and offers no button", async () => {
      await page.goto(`${server.url}/ui/runs/run_doesnotexist`);
      await page.getByRole("heading", { name: "Run not found" }).waitFor();
      expect(await page.locator("main button").count()).toBe(0);
      expect(await page.getByTestId("stream-status").count()).toBe(0);
      expect(await page.locator("main").textContent()).not.toMatch(/reconnecting|connecting/);
      await page.goto(`${server.url}/ui/experiments/exp_doesnotexist`);
      await page.getByRole("heading", { name: "Experiment not found" }).waitFor();
      expect(await page.locator("main button").count()).toBe(0);
      await shoot("missing-run");
    });

    it("marks stage boundaries on a run's curves, zooms by dragging, shows its config and exports its metrics", async () => {
      const prog = seeded.alpha.runs.find((r) => r.label === "prog");
      if (!prog) throw new Error("alpha has no prog run");
      await page.goto(`${server.url}/ui/runs/${prog.id}`);
      await poll(() => page.getByTestId("outcome").textContent()).toContain("completed");
      const loss = page.getByTestId("loss-chart");
      await poll(() => loss.getAttribute("data-points")).toBe(String(seeded.epochs));
      // One boundary: stage 1 starts at epoch 2.
      expect(await loss.getAttribute("data-markers")).toBe("1");
      expect(await page.getByTestId("accuracy-chart").getAttribute("data-markers")).toBe("1");
      await poll(() => xRange(loss)).toEqual([0, seeded.epochs - 1]);

      await dragAcross(loss, 0.05, 0.5);
      await poll(() => loss.getAttribute("data-zoomed")).toBe("true");
      const [zoomMin, zoomMax] = await xRange(loss);
      expect(zoomMin).toBeGreaterThanOrEqual(0);
      expect(zoomMax).toBeLessThan(seeded.epochs - 1);
      expect(zoomMax).toBeGreaterThan(zoomMin);
      await loss.getByRole("button", { name: "Reset zoom" }).click();
      await poll(() => xRange(loss)).toEqual([0, seeded.epochs - 1]);
      // The same by typing a range (keyboard and touch users cannot drag).
      await loss.getByText("Range").click();
      await loss.getByLabel("Training loss: epoch from").fill("1");
      await loss.getByLabel("Training loss: epoch to").fill("2");
      await loss.getByRole("button", { name: "Zoom", exact: true }).click();
      await poll(() => xRange(loss)).toEqual([1, 2]);
      expect(await loss.getAttribute("data-zoomed")).toBe("true");
      await loss.getByRole("button", { name: "Reset zoom" }).click();
      await poll(() => xRange(loss)).toEqual([0, seeded.epochs - 1]);

      // A finished run: nothing to cancel.
      expect(await page.getByRole("button", { name: "Cancel run" }).isDisabled()).toBe(true);
      const config = page.getByTestId("run-config");
      const spec = JSON.parse((await config.locator("pre").textContent()) ?? "{}") as {
        name: string;
        arms: { arm: string }[];
        seeds: number[];
      };
      expect(spec).toMatchObject({ name: "alpha", arms: [{ arm: "prog" }], seeds: [0] });

      const csv = await downloadText(page.getByRole("button", { name: "Export metrics (CSV)" }));
      expect(csv.name).toBe(`${prog.id}-metrics.csv`);
      const [header = [], ...rows] = parseCsv(csv.text);
      const stored = (await api<{ items: Metric[] }>(`/v1/runs/${prog.id}/metrics?limit=5000`)).items;
      expect(header.slice(0, 2)).toEqual(["step", "epoch"]);
      expect(header.slice(2)).toEqual([...new Set(stored.map((m) => m.key))].sort());
      expect(rows).toHaveLength(new Set(stored.map((m) => m.step)).size);
      // Every stored value is in its step's row, under its key.
      for (const m of stored) {
        const row = rows.find((r) => r[0] === String(m.step));
        expect(Number(row?.[header.indexOf(m.key)]), `${m.key} at step ${m.step}`).toBe(m.value);
      }
      await shoot("run-stages");
    });

    it("draws a one-point curve around its point, not over 0–100 epochs, and can cancel a running run", async () => {
      await page.goto(`${server.url}/ui/runs/${seeded.gamma.running}`);
      const loss = page.getByTestId("loss-chart");
      await poll(() => loss.getAttribute("data-points")).toBe("1");
      // Epoch 0 alone: one epoch either side, not uPlot's 0–100.
      await poll(() => xRange(loss)).toEqual([-1, 1]);
      expect(await page.getByRole("button", { name: "Cancel run" }).isEnabled()).toBe(true);
      await shoot("run-one-point");
    });

    it("keeps the growth timeline inside a phone's screen", async () => {
      const prog = seeded.beta.runs[0];
      await page.goto(`${server.url}/ui/runs/${prog?.id}`);
      await poll(() => page.getByTestId("growth-band").count()).toBe(2);
      await page.setViewportSize(PHONE);
      const clipped = await page
        .getByTestId("growth-band")
        .evaluateAll(
          (bands) =>
            bands.filter((b) => b.scrollHeight > b.clientHeight + 1 || b.scrollWidth > b.clientWidth + 1)
              .length,
        );
      expect(clipped).toBe(0);
      expect(await page.evaluate(PAGE_WIDTH)).toBeLessThanOrEqual(PHONE.width);
      await page.setViewportSize(DESKTOP);
    });

    it("fits the report table at 1,400 px, scrolls it in its own box on a phone, and exports it", async () => {
      await page.goto(`${server.url}/ui/experiments/${seeded.alpha.id}`);
      await page.locator('[data-testid="report-row"][data-arm="prog"]').waitFor();
      const wrap = page.getByTestId("report-wrap");
      const fits = () => wrap.evaluate((el) => el.scrollWidth <= el.clientWidth);
      expect(await fits()).toBe(true);
      const report = await api<{
        arms: { arm: string; top1: number | null; wallSeconds: number | null; wallSpeedup: number | null }[];
      }>(`/v1/experiments/${seeded.alpha.id}/report`);
      const csv = await downloadText(page.getByRole("button", { name: "Export report (CSV)" }));
      expect(csv.name).toBe(`${seeded.alpha.id}-report.csv`);
      const [header = [], ...rows] = parseCsv(csv.text);
      expect(rows.map((r) => r[0])).toEqual(report.arms.map((a) => a.arm));
      for (const arm of report.arms) {
        const row = rows.find((r) => r[0] === arm.arm) ?? [];
        expect(Number(row[header.indexOf("top1")])).toBe(arm.top1);
        expect(Number(row[header.indexOf("wall_seconds")])).toBe(arm.wallSeconds);
        // Speed-ups as the ratios the table shows (stored as ratio − 1): the baseline is 1.
        expect(Number(row[header.indexOf("wall_speedup_ratio")])).toBeCloseTo(
          (arm.wallSpeedup ?? Number.NaN) + 1,
          12,
        );
      }
      await shoot("experiment-report");
      await page.setViewportSize(PHONE);
      expect(await page.evaluate(PAGE_WIDTH)).toBeLessThanOrEqual(PHONE.width);
      await page.setViewportSize(DESKTOP);
    });

    it("compares runs of two experiments: any metric against epochs, images or seconds, boundaries marked", async () => {
      await page.goto(`${server.url}/ui/compare`);
      await page.getByLabel("From experiment").selectOption({ label: `alpha (${seeded.alpha.id})` });
      const alphaRuns = page.getByRole("list", { name: "Runs of alpha" });
      for (const label of ["original seed 0", "prog seed 0"]) {
        await alphaRuns.getByRole("checkbox", { name: label }).check();
      }
      await page.getByLabel("From experiment").selectOption({ label: `beta (${seeded.beta.id})` });
      await page
        .getByRole("list", { name: "Runs of beta" })
        .getByRole("checkbox", { name: "prog seed 0" })
        .check();
      const chart = page.getByTestId("compare-chart");
      await poll(() => chart.locator(".chart-legend li").count()).toBe(4); // 3 runs + the marker key
      expect(await page.getByTestId("compared-runs").textContent()).toMatch(
        /alpha · original.*alpha · prog.*beta · prog/,
      );

      // Any key the runs have; pick one whose values differ per epoch.
      const stored = (
        await api<{ items: Metric[] }>(`/v1/runs/${seeded.alpha.runs[0]?.id}/metrics?limit=5000`)
      ).items;
      const options = await page.getByLabel("Metric", { exact: true }).locator("option").allTextContents();
      expect(options).toEqual(expect.arrayContaining([...new Set(stored.map((m) => m.key))]));
      // Test top-1 (its key, whatever it is called): it differs per run, and is not the default pick.
      const top1 = stored.find((m) => /test/.test(m.key) && /best/.test(m.key))?.key ?? "";
      const loss = stored.find((m) => /loss/.test(m.key))?.key ?? "";
      await page.getByLabel("Metric", { exact: true }).selectOption(loss);
      expect(page.url()).toContain(`key=${encodeURIComponent(loss)}`);
      await page.getByLabel("Metric", { exact: true }).selectOption(top1);
      expect(page.url()).toContain(`key=${encodeURIComponent(top1)}`);

      await page.getByLabel("Against", { exact: true }).selectOption("epoch");
      await poll(() => xRange(chart)).toEqual([0, seeded.epochs - 1]);
      // The two prog runs grow at epoch 2: one boundary each, halfway between epochs 1 and 2.
      expect(await chart.getAttribute("data-markers")).toBe("2");
      expect(await chart.getAttribute("data-points")).toBe(String(seeded.epochs));

      // Seconds: the original's epochs take 1 s each (4 s in all), the prog runs' first two 0.5 s.
      await page.getByLabel("Against", { exact: true }).selectOption("seconds");
      await poll(() => xRange(chart)).toEqual([0.5, 4]);
      expect(await chart.getAttribute("data-markers")).toBe("2");
      // Images: 128 images/s × 1 s per epoch for the original (512 in all), 256 × 0.5 s early for prog.
      await page.getByLabel("Against", { exact: true }).selectOption("images");
      await poll(() => xRange(chart)).toEqual([128, 512]);
      expect(page.url()).toMatch(/x=images/);

      await dragAcross(chart, 0.3, 0.9);
      await poll(() => chart.getAttribute("data-zoomed")).toBe("true");
      await chart.getByRole("button", { name: "Reset zoom" }).click();
      await poll(() => xRange(chart)).toEqual([128, 512]);

      // The API's description of the key is shown with it.
      expect((await page.getByTestId("metric-description").textContent())?.length).toBeGreaterThan(5);
      // Runs are also found by text across experiments (`GET /v1/runs?q=`): beta's, already chosen.
      await page.getByLabel("Or search runs").fill("beta");
      await page.getByRole("button", { name: "Search", exact: true }).click();
      const matches = page.getByRole("list", { name: "Runs matching beta" }).getByRole("checkbox");
      await poll(() => matches.count()).toBe(1);
      expect(await matches.isChecked()).toBe(true);

      // The URL holds the comparison: a reload shows the same one.
      await page.reload();
      await poll(() => chart.locator(".chart-legend li").count()).toBe(4);
      expect(await page.getByLabel("Against", { exact: true }).inputValue()).toBe("images");
      await shoot("compare");
    });

    it("lists, creates and revokes keys for an admin, and tells a member key it cannot", async () => {
      await page.goto(`${server.url}/ui/`);
      await page.getByRole("link", { name: "Keys" }).click();
      const table = page.getByTestId("keys-table");
      await table.locator('[data-testid="key-row"][data-name="browser-test-worker"]').waitFor();
      await page.getByLabel("Name").fill("ci-member");
      await page.getByLabel("Role").selectOption("member");
      await page.getByRole("button", { name: "Create key" }).click();
      const secret = (await page.getByTestId("created-key").locator(".secret").textContent()) ?? "";
      expect(secret).toMatch(/^ap_/);
      const row = table.locator('[data-testid="key-row"][data-name="ci-member"]');
      await poll(() => row.textContent()).toContain("active");

      // The operator makes a key in another project, then narrows the list to that project.
      await page.getByLabel("Name").fill("lab-admin");
      await page.getByLabel("Role").selectOption("admin");
      await page.getByLabel("Project (operator only; empty: this key's)").fill("lab");
      await page.getByRole("button", { name: "Create key" }).click();
      await poll(() => page.getByTestId("created-key").textContent()).toContain("project lab");
      const names = () =>
        table.getByTestId("key-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name")));
      await poll(names).toContain("lab-admin");
      await page.getByLabel("Project", { exact: true }).selectOption("lab");
      await poll(names).toEqual(["lab-admin"]);
      await page.getByLabel("Project", { exact: true }).selectOption("");
      await poll(names).toContain("ci-member");
      await shoot("keys");

      // The member key: no Keys link, and the page says why.
      const member = await context.newPage();
      await member.goto(`${server.url}/ui/`);
      await member.getByLabel("API key").fill(secret);
      await member.getByRole("button", { name: "Sign in" }).click();
      await member.getByRole("heading", { name: "Experiments" }).waitFor();
      expect(await member.getByRole("link", { name: "Keys" }).count()).toBe(0);
      await member.goto(`${server.url}/ui/keys`);
      await member.getByTestId("keys-forbidden").waitFor();
      await member.close();

      await row.getByRole("button", { name: "Revoke key ci-member" }).click();
      await poll(() => row.textContent()).toContain("revoked");
      expect(await row.getByRole("button").isDisabled()).toBe(true);
    });

    it("tags and notes an experiment and a run, then finds them with the lists' filters", async () => {
      await page.goto(`${server.url}/ui/experiments/${seeded.alpha.id}`);
      const notes = page.getByTestId("annotations");
      await notes.getByLabel("New tag").fill("baseline");
      await notes.getByRole("button", { name: "Add tag" }).click();
      await notes.locator('[data-tag="baseline"]').waitFor();
      await notes.getByLabel("Note").fill("the first comparison");
      await notes.getByRole("button", { name: "Save note" }).click();
      await poll(() => notes.getByRole("button", { name: "Save note" }).isDisabled()).toBe(true);
      // Stored: the API answers them.
      const alpha = await api<{ tags: string[]; note: string | null }>(`/v1/experiments/${seeded.alpha.id}`);
      expect(alpha).toMatchObject({ tags: ["baseline"], note: "the first comparison" });
      // A tag the API refuses is explained before it is sent.
      await notes.getByLabel("New tag").fill("a,b");
      await notes.getByRole("button", { name: "Add tag" }).click();
      expect(await notes.getByRole("alert").textContent()).toContain("no commas");

      const grown = seeded.beta.runs[0]?.id ?? "";
      await page.goto(`${server.url}/ui/runs/${grown}`);
      await page.getByTestId("annotations").getByLabel("New tag").fill("grown");
      await page.getByTestId("annotations").getByRole("button", { name: "Add tag" }).click();
      await page.getByTestId("annotations").locator('[data-tag="grown"]').waitFor();
      expect((await api<{ tags: string[] }>(`/v1/runs/${grown}`)).tags).toEqual(["grown"]);

      // Experiments: by tag, by text, then a tag chip adds its filter.
      await page.goto(`${server.url}/ui/`);
      const experimentNames = () =>
        page
          .getByTestId("experiment-row")
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name")));
      await poll(experimentNames).toEqual(["gamma", "beta", "alpha"]);
      await page.getByLabel("Tags (all of)").fill("baseline");
      await page.getByRole("button", { name: "Apply" }).click();
      await poll(experimentNames).toEqual(["alpha"]);
      expect(page.url()).toContain("tag=baseline");
      await shoot("experiments-filtered");
      await page.getByRole("button", { name: "Clear" }).click();
      await poll(experimentNames).toEqual(["gamma", "beta", "alpha"]);
      await page.getByLabel("Search").fill("GAM");
      await page.getByLabel("Search").press("Enter");
      await poll(experimentNames).toEqual(["gamma"]);
      await page.getByLabel("Order").selectOption("createdAt");
      await page.getByRole("button", { name: "Clear" }).click();
      await page.getByLabel("Order").selectOption("createdAt");
      await poll(experimentNames).toEqual(["alpha", "beta", "gamma"]);
      await page.getByTestId("experiment-row").locator('[data-tag="baseline"]').click();
      await poll(experimentNames).toEqual(["alpha"]);

      // Runs across experiments: by state and arm, as the API filters them, then compare two.
      await page.goto(`${server.url}/ui/runs`);
      const runIds = () =>
        page.getByTestId("run-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run")));
      const apiIds = async (query: string) =>
        (await api<{ items: { id: string }[] }>(`/v1/runs?limit=500&${query}`)).items.map((r) => r.id);
      await poll(() => runIds().then((ids) => ids.length)).toBe(9);
      await page.getByRole("checkbox", { name: "running" }).check();
      await poll(runIds).toEqual([seeded.gamma.running]);
      await page.getByRole("checkbox", { name: "queued" }).check();
      await poll(runIds).toEqual(await apiIds("state=queued,running"));
      expect((await runIds()).sort()).toEqual([seeded.gamma.running, seeded.gamma.queued].sort());
      expect(page.url()).toMatch(/state=running,queued/);
      await page.getByRole("button", { name: "Clear" }).click();
      await page.getByLabel("Arm").fill("prog");
      await page.getByRole("button", { name: "Apply" }).click();
      await poll(runIds).toEqual(await apiIds("arm=prog"));
      expect(await runIds()).toHaveLength(4);
      await page.getByLabel("Tags (all of)").fill("grown");
      await page.getByRole("button", { name: "Apply" }).click();
      await poll(runIds).toEqual([grown]);
      await shoot("runs-filtered");
      await page.getByRole("button", { name: "Clear" }).click();
      await poll(() => runIds().then((ids) => ids.length)).toBe(9);
      await page.getByRole("checkbox", { name: "Compare beta prog seed 0" }).check();
      await page.getByRole("checkbox", { name: "Compare alpha original seed 0" }).check();
      await page.getByRole("button", { name: "Compare 2 selected" }).click();
      await page.waitForURL(/\/ui\/compare\?runs=/);
      await poll(() => page.getByTestId("compare-chart").locator(".chart-legend li").count()).toBe(3);
    });

    it("follows the system's dark setting on every page", async () => {
      await page.emulateMedia({ colorScheme: "light" });
      await page.goto(`${server.url}/ui/experiments/${seeded.alpha.id}`);
      await page.getByTestId("report-table").waitFor();
      expect(lightness(await page.evaluate(PAGE_BACKGROUND))).toBeGreaterThan(0.8);
      await page.emulateMedia({ colorScheme: "dark" });
      expect(lightness(await page.evaluate(PAGE_BACKGROUND))).toBeLessThan(0.2);
      // Text on panels stays readable: light text on the dark panel.
      const panelText = String(await page.evaluate(PANEL_TEXT));
      expect(lightness(panelText)).toBeGreaterThan(0.7);
      await shoot("experiment-dark");
      const prog = seeded.alpha.runs.find((r) => r.label === "prog");
      await page.goto(`${server.url}/ui/runs/${prog?.id}`);
      await expect
        .poll(() => page.getByTestId("loss-chart").getAttribute("data-points"))
        .toBe(String(seeded.epochs));
      await shoot("run-dark");
      await page.goto(
        `${server.url}/ui/compare?runs=${seeded.alpha.runs.map((r) => r.id).join(",")}&x=seconds`,
      );
      await poll(() => page.getByTestId("compare-chart").getAttribute("data-points")).not.toBe("0");
      await shoot("compare-dark");
      await page.goto(`${server.url}/ui/runs`);
      await poll(() => page.getByTestId("run-row").count()).toBe(9);
      await shoot("runs-dark");
      await page.emulateMedia({ colorScheme: "light" });
    });

    it("pauses a queued run and resumes it from the run page, each button live only when it applies", async () => {
      const id = seeded.gamma.queued;
      await page.goto(`${server.url}/ui/runs/${id}`);
      const pause = page.getByTestId("pause-run");
      const resume = page.getByTestId("resume-run");
      await poll(() => pause.isEnabled()).toBe(true);
      expect(await resume.isDisabled()).toBe(true);
      await pause.click();
      // Nobody trains it: it is paused at once, and the stream says so.
      await page.getByTestId("paused").waitFor();
      await poll(() => resume.isEnabled()).toBe(true);
      expect(await pause.isDisabled()).toBe(true);
      expect(await page.getByRole("button", { name: "Cancel run" }).isEnabled()).toBe(true);
      expect((await api<{ state: string }>(`/v1/runs/${id}`)).state).toBe("paused");
      await shoot("run-paused");
      await resume.click();
      await poll(() => pause.isEnabled()).toBe(true);
      expect(await resume.isDisabled()).toBe(true);
      expect(await page.getByTestId("paused").count()).toBe(0);
      expect((await api<{ state: string }>(`/v1/runs/${id}`)).state).toBe("queued");
    });

    it("asked nothing of another host and logged no page error", () => {
      expect(foreign).toEqual([]);
      expect(problems).toEqual([]);
    });
  },
);
