import { describe, expect, it, vi } from "vitest";
import { clientFor, keyHint, reportErrors } from "../../src/cli/client-options.ts";
import { unwrap } from "../../src/client/index.ts";
import { loadSettings } from "../../src/env.ts";
import { listen } from "../../src/http-listener.ts";
import { browseUrl, createLog, logStart, type StartInfo } from "../../src/start-log.ts";
import { testApp } from "../api/helpers.ts";

const INFO: StartInfo = {
  url: "http://127.0.0.1:8787",
  database: "/srv/data/autoprog.sqlite",
  dispatch: "in-process",
  concurrency: 1,
  adminKeyFile: "/srv/data/admin-key",
  adminKeyCreated: true,
};

function capture(run: (write: (line: string) => void) => void): string[] {
  const lines: string[] = [];
  run((line) => lines.push(line));
  return lines;
}

describe("the start's log", () => {
  it("names the dashboard, the API reference, the health URL and the admin-key file for a person", () => {
    const lines = capture((write) => logStart("text", INFO, write));
    expect(lines[0]).toBe("autoprog is listening on http://127.0.0.1:8787");
    expect(lines.join("\n")).toContain("Dashboard      http://127.0.0.1:8787/ui/");
    expect(lines.join("\n")).toContain("API reference  http://127.0.0.1:8787/reference");
    expect(lines.join("\n")).toContain("Health         http://127.0.0.1:8787/healthz");
    expect(lines.join("\n")).toContain("Admin key      /srv/data/admin-key (created now)");
    const later = capture((write) => logStart("text", { ...INFO, adminKeyCreated: false }, write));
    expect(later.join("\n")).toContain("Admin key      /srv/data/admin-key\n");
    const none = capture((write) =>
      logStart("text", { ...INFO, adminKeyFile: null, adminKeyCreated: false }, write),
    );
    expect(none.join("\n")).toMatch(/Admin key {6}none written here .*autoprog keys create/);
  });

  it("is one JSON record with the same links for a machine, and nothing when silent", () => {
    const [line, ...rest] = capture((write) => logStart("json", INFO, write));
    expect(rest).toEqual([]);
    expect(JSON.parse(line ?? "")).toMatchObject({
      message: "listening",
      url: INFO.url,
      dashboard: `${INFO.url}/ui/`,
      reference: `${INFO.url}/reference`,
      health: `${INFO.url}/healthz`,
      adminKeyFile: INFO.adminKeyFile,
    });
    expect(capture((write) => logStart("silent", INFO, write))).toEqual([]);
  });

  it("writes other records as text or JSON lines", () => {
    const [text] = capture((write) =>
      createLog("text", write)("run started", { runId: "run_1", note: "a b" }),
    );
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT\S+Z run started runId=run_1 note="a b"$/);
    const [json] = capture((write) => createLog("json", write)("run started", { runId: "run_1" }));
    expect(JSON.parse(json ?? "")).toMatchObject({ message: "run started", runId: "run_1" });
    expect(capture((write) => createLog("silent", write)("run started"))).toEqual([]);
  });

  it.each([
    ["127.0.0.1", "http://127.0.0.1:8787"],
    ["localhost", "http://localhost:8787"],
    ["0.0.0.0", "http://127.0.0.1:8787"],
    ["::", "http://127.0.0.1:8787"],
    ["::1", "http://[::1]:8787"],
  ])("shows a listen address %s as %s", (host, url) => {
    expect(browseUrl(host, 8787)).toBe(url);
  });

  it("reads AUTOPROG_LOG_FORMAT (text by default), and AUTOPROG_LOG=json as its older spelling", () => {
    expect(loadSettings({}).log).toBe("text");
    expect(loadSettings({ AUTOPROG_LOG_FORMAT: "json" }).log).toBe("json");
    expect(loadSettings({ AUTOPROG_LOG: "json" }).log).toBe("json");
    expect(loadSettings({ AUTOPROG_LOG: "silent", AUTOPROG_LOG_FORMAT: "json" }).log).toBe("silent");
    expect(() => loadSettings({ AUTOPROG_LOG_FORMAT: "yaml" })).toThrow(/AUTOPROG_LOG_FORMAT/);
  });
});

describe("the CLI's answer to a 401", () => {
  it("names --key, AUTOPROG_API_KEY and the admin-key file of a server started here", () => {
    const hint = keyHint({ AUTOPROG_DATA_DIR: "/srv/autoprog" });
    expect(hint).toContain("--key");
    expect(hint).toContain("AUTOPROG_API_KEY");
    expect(hint).toContain("/srv/autoprog/admin-key");
    expect(keyHint({})).toContain(`${process.cwd()}/data/admin-key`);
  });
});

describe("a CLI command without a key", () => {
  it("prints the server's problem and how to pass a key, and exits 1", async () => {
    const t = testApp();
    const server = await listen({ fetch: (request) => t.raw.fetch(request), hostname: "127.0.0.1", port: 0 });
    const address = server.address();
    const api = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      errors.push(args.join(" "));
    });
    try {
      await reportErrors(async () => {
        unwrap(await clientFor({ api }).GET("/v1/experiments"));
      })();
      expect(process.exitCode).toBe(1);
      const text = errors.join("\n");
      expect(text).toMatch(/^error: A valid API key is required/);
      expect(text).toContain("--key ap_…");
      expect(text).toContain("AUTOPROG_API_KEY");
      expect(text).toContain("admin-key");
    } finally {
      vi.restoreAllMocks();
      process.exitCode = undefined;
      server.close();
      t.close();
    }
  });
});
