import { z } from "zod";
import type { ModelFamily } from "./model-config.ts";
import { DEFAULT_TIE_Z } from "./paired-selection.ts";

/**
 * The arms of an experiment (autoprog-spec §4–§5): one zod schema per schedule, joined in a
 * discriminated union that every consumer (trainer, API, OpenAPI document) picks up.
 */

const positiveInt = z.number().int().positive();

/** How a search picks its winner from the measured candidates. */
export const SELECTION_RULES = ["paired", "paper"] as const;
export type SelectionRule = (typeof SELECTION_RULES)[number];
/** `search.sideFloor`: no floor (the paper), or the manual schedule's side r_k. */
export const SIDE_FLOORS = ["none", "schedule"] as const;
/** `search.cost`: measured seconds per step, or analytic FLOPs. */
export const SEARCH_COSTS = ["time", "flops"] as const;
/**
 * `search.winnerWeights`: where the winner's weights come from. "supernet" (the paper): read out
 * of the trained supernet, whose phase counts toward the stage. "regrow": the supernet trains on
 * a copy that is then dropped; the winner grows from the stage's starting weights with the arm's
 * operator (MoGrow) and trains the whole stage, as a fixed schedule would.
 */
export const WINNER_WEIGHTS = ["supernet", "regrow"] as const;

/*
 * The search defaults are the recipe measured best where seed noise is small (arm autoprog-tiny
 * of examples/fashion-mnist-paper.json, and a short MNIST regime on a GPU; the numbers and why:
 * docs/results.md): the paired rule with a 1% margin, the side floor, FLOPs costs and a supernet
 * phase of a few steps. Without the floor most runs kept small sides too long and lost accuracy;
 * on the same schedule, accuracy fell as the supernet phase grew, and the few-step phase is the
 * faster one. Training sampled sub-networks costs the model more than the search's extra
 * information gains at this scale.
 */
/** Equivalence margin of the paired rule: up to 1% of search loss is traded for a cheaper net. */
export const DEFAULT_SEARCH_TOLERANCE = 0.01;
export const DEFAULT_SIDE_FLOOR = "schedule" satisfies (typeof SIDE_FLOORS)[number];
/**
 * Analytic FLOPs order tied candidates the same way on every machine and under any load; measured
 * step times did not (a loaded CPU, and a host-bound GPU where a step's time follows depth only).
 */
export const DEFAULT_SEARCH_COST = "flops" satisfies (typeof SEARCH_COSTS)[number];
/** The supernet phase's share of a searched stage (the paper: 2 of 25 epochs, 0.08). */
export const DEFAULT_SUPERNET_FRACTION = 0.005;
/** The supernet phase's floor in steps: enough for the loss points of its second half. */
export const DEFAULT_SUPERNET_MIN_STEPS = 8;

export const GROWTH_OPERATORS = ["randinit", "stacking", "interpolation", "identity", "mogrow"] as const;
export type GrowthOperatorName = (typeof GROWTH_OPERATORS)[number];

const label = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, "lower-case letters, digits, - and _")
  .optional()
  .describe("Names the arm in results; defaults to the arm kind. Needed for two arms of one kind.");

/** Options every growing arm shares. */
const growthOptions = {
  label,
  /** How new blocks get their weights at each growth. */
  operator: z.enum(GROWTH_OPERATORS).optional(),
  /** Carry AdamW moments through the depth map instead of resetting them (reference: reset). */
  carryOptimizerState: z.boolean().default(false),
  /**
   * AdaReg: scale drop-path and random-erasing linearly from 0 (stage 0) to their spec values
   * (last stage). Absent: on for VOLO, off for the ViT, as in the paper (DeiT with it did not converge).
   */
  adaptiveRegularization: z.boolean().optional(),
};

const ArchitectureSchema = z.object({ depth: positiveInt, side: positiveInt }).strict();

const OriginalArmSchema = z.object({ arm: z.literal("original"), label }).strict();
const ProgArmSchema = z
  .object({
    arm: z.literal("prog"),
    ...growthOptions,
    /** s0: the first stage's scaling ratio of depth and side. */
    initialRatio: z.number().min(0.1).max(1).default(0.5),
  })
  .strict();
const ProgStackArmSchema = z.object({ arm: z.literal("progstack"), ...growthOptions }).strict();
const FixedArmSchema = z
  .object({
    arm: z.literal("fixed"),
    ...growthOptions,
    /** One architecture per stage, in the format an AutoProg run reports. */
    schedule: z.array(ArchitectureSchema).min(1).max(64),
  })
  .strict();

const SearchSchema = z
  .object({
    /** Images of the fixed search subset (augmented once, cached, shared by every candidate). */
    subsetSize: positiveInt.max(50_000).default(256),
    /** Loss measurement points, evenly spread over the second half of the supernet phase (the paper: 5). */
    points: positiveInt.max(20).default(3),
    /** "flops" (default): analytic, deterministic; "time": measured seconds per step on the running backend. */
    cost: z.enum(SEARCH_COSTS).default(DEFAULT_SEARCH_COST),
    /** Timed steps per candidate after one warm-up (median taken; cost "time" only). */
    timingRuns: positiveInt.max(20).default(3),
    /** The EMA whose loss scores candidates (the fast one). */
    ema: z.string().default("fast"),
    /**
     * "paired": the lowest mean loss is the reference, candidates within `z` standard errors of
     * the paired per-image difference tie with it and the cheapest tied one wins (core/paired-selection.ts).
     * "paper": the paper's S = L·t^w (core/search-score.ts).
     */
    selection: z.enum(SELECTION_RULES).default("paired"),
    /** Standard errors within which a paired difference counts as noise ("paired" only). */
    z: z.number().min(0).max(10).default(DEFAULT_TIE_Z),
    /**
     * Equivalence margin ("paired" only): a candidate also ties when its paired mean loss is at
     * most this fraction of the reference's mean loss above it (beyond the z standard errors).
     * 0.01 (default) trades up to 1% of search loss for a cheaper net; 0: only noise ties.
     */
    tolerance: z.number().min(0).max(1).default(DEFAULT_SEARCH_TOLERANCE),
    /**
     * "schedule": from stage 1 on, the smallest side offered is the manual schedule's r_k, so
     * token growth may run ahead of prog's schedule but never behind it. The search loss favours
     * the side the network has trained at (measured: docs/results.md), so a choice to stay small
     * is the one it cannot be trusted with (the default). "none": the paper's {current, next}.
     */
    sideFloor: z.enum(SIDE_FLOORS).default(DEFAULT_SIDE_FLOOR),
    /**
     * "supernet" (the paper): the winner's weights are read out of the trained supernet.
     * "regrow": the supernet phase is a look-ahead on a copy of the model, dropped after the
     * search; the winner grows from the stage's starting weights with the arm's operator and
     * trains the whole stage, so a search that picks prog's schedule trains exactly as prog does
     * and costs only its phase and passes (both reported in the search and supernet shares).
     */
    winnerWeights: z.enum(WINNER_WEIGHTS).default("supernet"),
  })
  .strict();

const AutoProgArmSchema = z
  .object({
    arm: z.literal("autoprog"),
    ...growthOptions,
    initialRatio: z.number().min(0.1).max(1).default(0.5),
    /**
     * Fraction of a searched stage's steps that train the elastic supernet (they count toward
     * the budget): max(supernetMinSteps, round(fraction · stage steps)), capped at the stage.
     * The paper spends 2 of 25 epochs (0.08); the default is far less (see the defaults above).
     * See core/supernet-phase.ts.
     */
    supernetFraction: z.number().gt(0).max(1).default(DEFAULT_SUPERNET_FRACTION),
    /** The supernet phase's floor in steps (the whole stage when that is shorter). */
    supernetMinSteps: positiveInt.default(DEFAULT_SUPERNET_MIN_STEPS),
    /** Whole epochs of supernet training instead of the fraction (the earlier option; wins when set). */
    supernetEpochs: positiveInt.optional(),
    search: SearchSchema.prefault({}),
  })
  .strict();

/** The paper's Tab. VI control: the whole run as an elastic supernet over Ω_0, no growth. */
const SupernetArmSchema = z
  .object({
    arm: z.literal("supernet"),
    label,
    initialRatio: z.number().min(0.1).max(1).default(0.5),
    adaptiveRegularization: z.boolean().optional(),
  })
  .strict();

/** Arms of an experiment; every consumer picks new members up from here. */
export const ArmSchema = z.discriminatedUnion("arm", [
  OriginalArmSchema,
  ProgArmSchema,
  ProgStackArmSchema,
  FixedArmSchema,
  AutoProgArmSchema,
  SupernetArmSchema,
]);

/** The arm's name within its experiment. */
export function armLabel(arm: { arm: string; label?: string | undefined }): string {
  return arm.label ?? arm.arm;
}

/** Whether an arm trains with AdaReg: its own choice, else its family's default (on for VOLO). */
export function adaptiveRegularizationOf(arm: z.infer<typeof ArmSchema>, family: ModelFamily): boolean {
  // The original arm trains one stage: nothing to ramp.
  if (arm.arm === "original") return false;
  const chosen: boolean | undefined =
    "adaptiveRegularization" in arm ? arm.adaptiveRegularization : undefined;
  return chosen ?? family === "volo";
}
