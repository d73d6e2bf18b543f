import { describe, expect, it } from "vitest";
import { backoffDelay, isTransientStatus, retry } from "../../src/kit/backoff.ts";

/** A random source that plays back `values` in turn. */
const playback = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};

describe("backoffDelay", () => {
  it("doubles from the first wait and stops at the longest (no jitter)", () => {
    const backoff = { firstMs: 1_000, maxMs: 30_000, jitter: "none" } as const;
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(backoff, n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("full jitter: a uniform share of the wait", () => {
    const backoff = { firstMs: 250, maxMs: 15_000, jitter: "full" } as const;
    const random = playback(0.5, 0, 0.25, 0.999);
    expect([1, 2, 3, 8].map((n) => backoffDelay(backoff, n, random))).toEqual([125, 0, 250, 15_000 * 0.999]);
  });

  it("equal jitter: at least half the wait", () => {
    const backoff = { firstMs: 500, maxMs: 30_000, jitter: "equal" } as const;
    const random = playback(0, 1, 0.5);
    expect([1, 2, 3].map((n) => backoffDelay(backoff, n, random))).toEqual([250, 1_000, 1_500]);
    expect(backoffDelay(backoff, 20, () => 0)).toBe(15_000);
  });
});

describe("retry", () => {
  const fast = { tries: 4, firstMs: 1, maxMs: 2, jitter: "full" } as const;

  it("calls again after a retryable error until it succeeds", async () => {
    let calls = 0;
    const result = await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("busy");
        return "done";
      },
      fast,
      () => true,
    );
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("throws an error the predicate refuses at once, as it was", async () => {
    let calls = 0;
    const refused = new Error("bad request");
    await expect(
      retry(
        async () => {
          calls += 1;
          throw refused;
        },
        fast,
        (error) => error !== refused,
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it("gives up after `tries` calls with the last error", async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls += 1;
          throw new Error(`failure ${calls}`);
        },
        fast,
        () => true,
      ),
    ).rejects.toThrow("failure 4");
    expect(calls).toBe(4);
  });
});

describe("isTransientStatus", () => {
  it("is 5xx and 429, never another 4xx", () => {
    expect([500, 502, 503, 429].every(isTransientStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 413, 422].some(isTransientStatus)).toBe(false);
  });
});
