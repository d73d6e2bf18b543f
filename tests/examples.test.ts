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
  it.each(files)("%s is a valid spec that states what it reaches and how long it takes", async (file) => {
    const spec = parseSpec(JSON.parse(await readFile(join("examples", file), "utf8")));
    expect(spec.description).toMatch(/\d+%|minutes|README/);
    expect(planExperiment(spec)).toHaveLength(spec.arms.length);
  });
});
