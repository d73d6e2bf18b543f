import { afterEach, describe, expect, it } from "vitest";
import { isLoopback } from "../../routes/common/guards.ts";
import { expectProblem, type TestApp, tableCounts, testApp, tinySpec } from "./helpers.ts";

let t: TestApp;
afterEach(() => t.close());

describe("request guards", () => {
  it("refuses a body over the limit with 413, writing nothing", async () => {
    t = testApp({ app: { maxBodyBytes: 4096 } });
    const before = await tableCounts(t.db);
    const big = JSON.stringify(tinySpec({ description: "x".repeat(5000) }));
    const problem = await expectProblem(await t.post("/v1/experiments", big), 413, "payload_too_large");
    expect(problem.detail).toBe("the request body is over 4096 bytes");
    expect(await tableCounts(t.db)).toEqual(before);
    expect((await t.post("/v1/experiments", tinySpec())).status).toBe(201);
  });

  it("refuses a 200 MB body at the default limit of 1 MiB without reading it", async () => {
    t = testApp();
    const response = await t.app.request("/v1/experiments", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(200 * 1024 * 1024) },
      body: "{}",
    });
    await expectProblem(response, 413, "payload_too_large");
  });

  it.each(["text/plain", "application/x-www-form-urlencoded", ""])(
    "refuses a JSON route's body sent as %j with 415",
    async (type) => {
      t = testApp();
      const before = await tableCounts(t.db);
      const body = JSON.stringify(tinySpec());
      const length = { "content-length": String(body.length) };
      const response = await t.app.request("/v1/experiments", {
        method: "POST",
        headers: type ? { ...length, "content-type": type } : length,
        body,
      });
      await expectProblem(response, 415, "unsupported_media_type");
      expect(await tableCounts(t.db)).toEqual(before);
    },
  );

  it("lets a POST without a body through without a content type", async () => {
    t = testApp();
    const response = await t.app.request("/v1/runs/run_missing/cancel", { method: "POST" });
    await expectProblem(response, 404, "not_found");
  });

  it("accepts application/json with a charset", async () => {
    t = testApp();
    const response = await t.post("/v1/experiments", tinySpec(), {
      "content-type": "application/json; charset=utf-8",
    });
    expect(response.status).toBe(201);
  });

  it("sends the usual security headers", async () => {
    t = testApp();
    const response = await t.app.request("/healthz");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("strict-transport-security")).toContain("max-age=");
  });

  it("answers only its own host names when it has a list (DNS rebinding)", async () => {
    t = testApp({ app: { allowedHosts: ["localhost", "127.0.0.1"] } });
    expect((await t.app.request("http://127.0.0.1:8787/healthz")).status).toBe(200);
    expect((await t.app.request("http://localhost:8787/healthz")).status).toBe(200);
    const problem = await expectProblem(
      await t.app.request("http://evil.example:8787/healthz"),
      403,
      "host_not_allowed",
    );
    expect(problem.detail).toBe("host evil.example is not one this server answers to");
  });

  it("judges each request's own host, whatever was seen before (each URL start is parsed once)", async () => {
    t = testApp({ app: { allowedHosts: ["127.0.0.1"] } });
    const status = async (url: string) => (await t.app.request(url)).status;
    // The same start twice, then starts that share a prefix with an allowed one.
    expect(await status("http://127.0.0.1:8787/healthz")).toBe(200);
    expect(await status("http://127.0.0.1:8787/openapi.json")).toBe(200);
    expect(await status("http://127.0.0.1.evil.example:8787/healthz")).toBe(403);
    expect(await status("http://127.0.0.1:8787/healthz")).toBe(200);
    // More starts than the memo holds: it empties, and answers stay right.
    for (let port = 1; port <= 300; port++)
      expect(await status(`http://evil.example:${port}/healthz`)).toBe(403);
    expect(await status("http://127.0.0.1:8787/healthz")).toBe(200);
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["::1", true],
    ["[::1]", true],
    ["0.0.0.0", false],
    ["192.168.1.4", false],
    ["::", false],
  ])("treats a listen address %s as loopback: %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});
