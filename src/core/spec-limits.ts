import { parameterCount } from "./flops.ts";
import { activationsPerImage } from "./memory.ts";
import { tokensOfGrid, type ViTConfig } from "./model-config.ts";

/**
 * Ceilings on what one experiment may ask for. A spec past one is refused up front (422 naming
 * the field) rather than accepted and left to exhaust the trainer's memory: width 4096 × depth 48
 * at 1024 px grew a CPU trainer to 6 GB in 85 s. docs/spec.md's "Limits" table lists them.
 */
export const SPEC_LIMITS = {
  /** Trainable parameters of the full model (ViT-B/16 has 86 M). */
  parameters: 100_000_000,
  /** Activations a training batch keeps for the backward pass, in float32 elements (8 GB). */
  activationsPerBatch: 2_000_000_000,
  /** Tokens per image, class token included (a 32 × 32 patch grid). */
  tokens: 1025,
  epochs: 10_000,
  arms: 16,
  /** Runs per experiment: arms × seeds. */
  runs: 64,
} as const;

export interface LimitIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

const grid = (model: ViTConfig, side: number) => tokensOfGrid(side / model.patchSize);

/**
 * Issues for every ceiling the spec passes. `sizeField` is the model field the user set that
 * most likely made the model too big (it is where the parameter issue is reported).
 */
export function limitIssues(
  model: ViTConfig,
  training: { readonly batchSize: number; readonly evalSides: readonly number[] },
  sizeField: string,
): LimitIssue[] {
  const issues: LimitIssue[] = [];
  const params = parameterCount(model, model.depth);
  if (!(params <= SPEC_LIMITS.parameters)) {
    issues.push({
      path: ["model", sizeField],
      message: `the model has ${fmt(params)} parameters; at most ${fmt(SPEC_LIMITS.parameters)}`,
    });
  }
  const tokens = grid(model, model.imageSize);
  if (!(tokens <= SPEC_LIMITS.tokens)) {
    issues.push({
      path: ["model", "imageSize"],
      message: `${fmt(tokens)} tokens per image (side ${model.imageSize} / patch ${model.patchSize}); at most ${SPEC_LIMITS.tokens}`,
    });
    // Activations grow with tokens²; one issue says enough.
    return issues;
  }
  training.evalSides.forEach((side, i) => {
    const evalTokens = grid(model, side);
    if (evalTokens > SPEC_LIMITS.tokens) {
      issues.push({
        path: ["training", "evalSides", i],
        message: `${fmt(evalTokens)} tokens per image; at most ${SPEC_LIMITS.tokens}`,
      });
    }
  });
  const activations = training.batchSize * activationsPerImage(model, { depth: model.depth, tokens });
  if (!(activations <= SPEC_LIMITS.activationsPerBatch)) {
    issues.push({
      path: ["training", "batchSize"],
      message: `a batch of ${training.batchSize} keeps about ${fmt(activations)} activations; at most ${fmt(SPEC_LIMITS.activationsPerBatch)} (use a smaller batch or model)`,
    });
  }
  return issues;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 1e9) return `${(n / 1e9).toPrecision(3)} G`;
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)} M`;
  return String(Math.round(n));
}
