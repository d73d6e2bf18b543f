import { describe, expect, it } from "vitest";
import { parseSpec, SpecError } from "../../src/core/spec.ts";
import { SPEC_LIMITS } from "../../src/core/spec-limits.ts";

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
    [{ model: { mlpRatio: 0.001 } }, "model.mlpRatio"],
    [{ training: { epochs: 2, stages: 4 }, arms: [{ arm: "prog" }] }, "training.stages"],
    [{ dataset: { name: "mnist", root: "cifar" } }, "dataset.root"],
    [{ backend: "cpu", training: { precision: "mixed" } }, "training.precision"],
    [{ training: { precision: "bf16" } }, "training.precision"],
    [
      {
        arms: [
          {
            arm: "fixed",
            schedule: [
              { depth: 1, side: 28 },
              { depth: 7, side: 28 },
            ],
          },
        ],
        training: { stages: 2 },
      },
      "arms.0.schedule.1.depth",
    ],
    [
      {
        arms: [
          {
            arm: "fixed",
            schedule: [
              { depth: 1, side: 30 },
              { depth: 6, side: 28 },
            ],
          },
        ],
        training: { stages: 2 },
      },
      "arms.0.schedule.0.side",
    ],
    [
      {
        arms: [
          {
            arm: "fixed",
            schedule: [
              { depth: 1, side: 32 },
              { depth: 6, side: 32 },
            ],
          },
        ],
        training: { stages: 2 },
      },
      "arms.0.schedule.0.side",
    ],
  ])("rejects cross-field mistakes: %j → %s", (patch, path) => {
    expect(errorsOf({ name: "m", dataset: { name: "mnist" }, ...patch })).toContain(path);
  });

  const labelled = (n: number) => Array.from({ length: n }, (_, i) => ({ arm: "original", label: `a${i}` }));
  const seeds = (n: number) => Array.from({ length: n }, (_, i) => i);

  it.each([
    ["parameters", { model: { width: 4096, depth: 48, heads: 32 } }, "model.width"],
    ["parameters", { model: { depth: 2_147_483_647 } }, "model.depth"],
    ["tokens", { model: { imageSize: 1024 } }, "model.imageSize"],
    ["tokens of an eval side", { training: { evalSides: [512] } }, "training.evalSides.0"],
    ["activations per batch", { model: { depth: 1024 } }, "training.batchSize"],
    [
      "activations per batch",
      { model: { variant: "small", imageSize: 224, patchSize: 16 }, training: { batchSize: 256 } },
      "training.batchSize",
    ],
    ["finite FLOPs", { model: { mlpRatio: 1e308 } }, "model.mlpRatio"],
    ["epochs", { training: { epochs: SPEC_LIMITS.epochs + 1 } }, "training.epochs"],
    ["arms", { arms: labelled(SPEC_LIMITS.arms + 1) }, "arms"],
    ["arms × seeds", { arms: labelled(8), seeds: seeds(16) }, "seeds"],
    ["arms × seeds", { arms: labelled(1000), seeds: seeds(16) }, "arms"],
  ])("refuses a spec past the %s ceiling: %j → %s", (_what, patch, path) => {
    expect(errorsOf({ name: "m", dataset: { name: "mnist" }, ...patch })).toContain(path);
  });

  it("accepts specs at the ceilings", () => {
    expect(() =>
      parseSpec({ name: "m", dataset: { name: "mnist" }, arms: labelled(4), seeds: seeds(16) }),
    ).not.toThrow();
    expect(() =>
      parseSpec({
        name: "m",
        dataset: { name: "cifar10" },
        model: { variant: "small", imageSize: 224, patchSize: 16 },
        training: { batchSize: 64 },
      }),
    ).not.toThrow();
  });
});
