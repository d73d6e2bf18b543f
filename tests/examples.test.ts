import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planExperiment } from "../src/core/plan.ts";
import { parseSpec } from "../src/core/spec.ts";

describe("examples/", async () => {
  const files = (await readdir("examples")).filter((f) => f.endsWith(".json"));
  it("holds the documented example specs", () => {
    expect(files).toEqual(expect.arrayContaining(["mnist-micro.json", "fashion-mnist-micro.json"]));
  });
  it.each(files)("%s is a valid spec that points to its results instead of copying them", async (file) => {
    const spec = parseSpec(JSON.parse(await readFile(join("examples", file), "utf8")));
    // Measured numbers live in docs/results.md, generated from bench/results/: a top-1 or a
    // speed-up with decimals in a description is a copy that goes stale.
    expect(spec.description).toMatch(/docs\/results\.md/);
    expect(spec.description).not.toMatch(/\d+\.\d+ ?%/);
    expect(planExperiment(spec)).toHaveLength(spec.arms.length);
  });
  it("fashion-mnist-paper's autoprog-tiny arm is the search defaults (as docs/how-a-run-works.md says), bar its 512 search images", async () => {
    const spec = parseSpec(JSON.parse(await readFile(join("examples", "fashion-mnist-paper.json"), "utf8")));
    const tiny = spec.arms.find((arm) => arm.label === "autoprog-tiny");
    const defaults = parseSpec({ ...spec, arms: [{ arm: "autoprog", search: { subsetSize: 512 } }] }).arms[0];
    expect(tiny).toEqual({ ...defaults, label: "autoprog-tiny" });
  });
  it("fashion-mnist-paper's autoprog-regrow arm is autoprog-tiny with the look-ahead search", async () => {
    const spec = parseSpec(JSON.parse(await readFile(join("examples", "fashion-mnist-paper.json"), "utf8")));
    const tiny = spec.arms.find((arm) => arm.label === "autoprog-tiny");
    const regrow = spec.arms.find((arm) => arm.label === "autoprog-regrow");
    if (tiny?.arm !== "autoprog") throw new Error("the example lost its autoprog-tiny arm");
    expect(regrow).toEqual({
      ...tiny,
      label: "autoprog-regrow",
      search: { ...tiny.search, winnerWeights: "regrow" },
    });
  });
});
