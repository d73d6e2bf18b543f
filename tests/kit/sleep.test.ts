import { describe, expect, it } from "vitest";
import { sleep } from "../../src/kit/sleep.ts";

describe("sleep", () => {
  it("waits about the time asked", async () => {
    const started = performance.now();
    await sleep(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("ends early and quietly when its signal aborts", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const waiting = sleep(60_000, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(waiting).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("does not wait at all on a signal aborted already", async () => {
    const started = performance.now();
    await sleep(60_000, AbortSignal.abort());
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
