import { describe, expect, it } from "vitest";
import { parseSpec, SpecError } from "../../src/core/spec.ts";

function errorsOf(input: unknown): string[] {
  try {
    parseSpec(input);
  } catch (error) {
    if (error instanceof SpecError) return error.errors.map((e) => e.path);
    throw error;
  }
  throw new Error("the spec was accepted");
}

describe("experiment spec", () => {
  it("fills defaults into a minimal spec", () => {
    const spec = parseSpec({ name: "m", dataset: { name: "mnist" } });
    expect(spec.model.variant).toBe("micro");
    expect(spec.arms).toEqual([{ arm: "original" }]);
    expect(spec.seeds).toEqual([0]);
    expect(spec.training.epochs).toBe(10);
    expect(spec.training.ema.map((e) => e.name)).toEqual(["fast", "slow"]);
  });

  it("names every wrong field at once", () => {
    const paths = errorsOf({
      name: "",
      dataset: { name: "imagenet" },
      training: { lr: -1, batchSize: 0, colour: "red" },
      arms: [{ arm: "magic" }],
    });
    expect(paths.sort()).toEqual([
      "arms.0.arm",
      "dataset.name",
      "name",
      "training.batchSize",
      "training.colour",
      "training.lr",
    ]);
  });

  it.each([
    [{ model: { imageSize: 30 } }, "model.imageSize"],
    [{ model: { width: 65 } }, "model.heads"],
    [{ seeds: [1, 1] }, "seeds"],
    [{ arms: [{ arm: "original" }, { arm: "original" }] }, "arms.1.label"],
    [{ training: { lr: 1e-4, minLr: 1e-3 } }, "training.minLr"],
    [
      {
        training: {
          ema: [
            { name: "a", horizon: 0.1 },
            { name: "a", horizon: 0.2 },
          ],
        },
      },
      "training.ema.1.name",
    ],
  ])("rejects cross-field mistakes: %j → %s", (patch, path) => {
    expect(errorsOf({ name: "m", dataset: { name: "mnist" }, ...patch })).toContain(path);
  });
});
