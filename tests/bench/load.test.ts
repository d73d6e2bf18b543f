import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGets } from "../../bench/load.ts";

/** bench/load.ts against bench/bare-server.ts's Hono app: what it counts, not how fast. */
describe("bench/load.ts", () => {
  let stop = () => {};
  let url = "";
  beforeAll(async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/bare-server.ts", "hono"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    stop = () => child.kill();
    const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
    url = `http://127.0.0.1:${Number(first.value)}`;
  }, 30_000);
  afterAll(() => stop());

  it("measures every answered request, with ordered percentiles", async () => {
    const r = await loadGets(`${url}/healthz`, { connections: 4, seconds: 1, warmupSeconds: 0 });
    expect(r.requests).toBeGreaterThan(0);
    expect(r.requestsPerSecond).toBeGreaterThan(0);
    expect(r.non2xx).toBe(0);
    expect(r.errors).toBe(0);
    expect(r.p50Ms).toBeLessThanOrEqual(r.p90Ms);
    expect(r.p90Ms).toBeLessThanOrEqual(r.p99Ms);
    expect(r.p99Ms).toBeLessThanOrEqual(r.maxMs);
  });

  it("counts answers that are not 2xx, so a broken route is not measured as a fast one", async () => {
    const r = await loadGets(`${url}/no-such-route`, { connections: 2, seconds: 1, warmupSeconds: 0 });
    expect(r.non2xx).toBeGreaterThan(0);
  });
});
