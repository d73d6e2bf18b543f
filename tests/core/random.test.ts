import { describe, expect, it } from "vitest";
import { createRandom, RANDOM_STREAMS, streamSeed } from "../../src/core/random.ts";

const draws = (seed: number) => Array.from({ length: 4 }, createRandom(seed));

describe("random streams", () => {
  it("gives seeds 2^29 apart different streams (seed * 1000 + purpose wrapped to the same 32 bits)", () => {
    const a = 7;
    const b = a + 2 ** 29;
    expect((a * 1000 + 1) >>> 0 === (b * 1000 + 1) >>> 0).toBe(true);
    expect(draws(streamSeed(a, "shuffle"))).not.toEqual(draws(streamSeed(b, "shuffle")));
  });

  it("gives every purpose of one seed its own stream", () => {
    const seeds = Object.keys(RANDOM_STREAMS).map((p) => streamSeed(0, p as keyof typeof RANDOM_STREAMS));
    expect(new Set(seeds).size).toBe(seeds.length);
  });
});
