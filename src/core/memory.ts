import { parameterCount } from "./flops.ts";
import { depthParts, resnetShapeOf, type ViTConfig, voloShapeOf } from "./model-config.ts";
import type { VoloShape } from "./volo-config.ts";

/**
 * What the trainer holds in memory, counted from the architecture alone (float32 elements; ×4
 * for bytes). The counts follow the trainer's own tensors — src/model/block.ts saves 14 tensors
 * per block for its hand-written backward pass, src/train/adamw.ts keeps flat parameters,
 * moments and a decay vector beside the weight variables, src/train/ema.ts one flat copy per
 * EMA — and were checked against the peak tensor bytes of real steps (bench/memory-estimate.ts).
 */

export const BYTES_PER_ELEMENT = 4;

/** One sub-network shape a step can train or evaluate. */
export interface ActivationShape {
  readonly depth: number;
  readonly tokens: number;
}

/**
 * Elements one image keeps for the backward pass: per block and token the residual stream, the
 * two norms' outputs and normalised inputs, q, k, v, the merged heads (9·D), the MLP's hidden
 * layer before GELU, its CDF and after (3·hidden), the attention probabilities (heads × N) and
 * the norms' two inverse deviations. Then the working set of one block's backward pass (the
 * gradients of those tensors, the score gradients [H, N, N] twice and the softmax's
 * intermediate), and the patch embedding and head.
 */
export function activationsPerImage(model: ViTConfig, shape: ActivationShape): number {
  if (resnetShapeOf(model)) return resnetActivationsPerImage(model, shape);
  const volo = voloShapeOf(model);
  if (volo) return voloActivationsPerImage(model, volo, shape);
  const { depth, tokens } = shape;
  const d = model.width;
  const hidden = model.mlpRatio * d;
  const attention = model.heads * tokens;
  const saved = 9 * d + 3 * hidden + attention + 2;
  const backward = 32 * d + 6 * hidden + 4 * attention;
  const embedding = 3 * d + model.patchSize ** 2 * model.channels;
  return tokens * (depth * saved + backward + embedding);
}

/**
 * Elements one image needs during an evaluation (no gradients): the stream after every block
 * (an evaluation keeps its batch's tensors until the batch is scored) and the working set of
 * one block: q, k, v and their heads, the scores and probabilities [H, N, N] with the softmax's
 * intermediate, the MLP's hidden layer and GELU.
 */
export function evaluationActivationsPerImage(model: ViTConfig, shape: ActivationShape): number {
  // A ResNet's pass without gradients keeps about one block's maps: a quarter of training's.
  if (resnetShapeOf(model)) return Math.ceil(resnetActivationsPerImage(model, shape) / 4);
  const volo = voloShapeOf(model);
  // VOLO: the outlookers' 4× finer grid at its width, on top of the transformer part's count.
  if (volo)
    return (
      4 * shape.tokens * (60 * volo.outlookerWidth + 81 * volo.outlookerHeads) + vitEvaluation(model, shape)
    );
  return vitEvaluation(model, shape);
}

function vitEvaluation(model: ViTConfig, shape: ActivationShape): number {
  const { depth, tokens } = shape;
  const d = model.width;
  const hidden = model.mlpRatio * d;
  const block = 34 * d + 5 * hidden + 4 * model.heads * tokens;
  const embedding = 3 * d + model.patchSize ** 2 * model.channels;
  return tokens * (depth * d + block + embedding);
}

/**
 * Copies of the parameters the trainer keeps between steps: the weight variables, AdamW's flat
 * parameters, two moments and decay vector, and one flat copy per EMA.
 */
export const persistentCopies = (emas: number): number => 5 + emas;

/**
 * Extra copies while AdamW updates: the flat gradient and the update's intermediates, which its
 * tf.tidy keeps until the new moments and parameters exist (15 element-wise results).
 */
export const UPDATE_COPIES = 16;

/** The copy of the gradient that exists while the backward pass completes it. */
export const GRADIENT_COPIES = 1;

export interface MemoryParts {
  /** Weights, AdamW state and EMAs, held between steps (doubled during a look-ahead search), and a search's image subset. */
  readonly state: number;
  /** The largest step: activations kept for the backward pass at its batch, plus its gradient. */
  readonly step: number;
  /** AdamW's update working set. */
  readonly update: number;
  /** The largest evaluation batch (and the EMA views it reads). */
  readonly evaluation: number;
}

/** Peak bytes: the state plus the largest of the three phases that come and go. */
export const peakBytes = (parts: MemoryParts): number =>
  parts.state + Math.max(parts.step, parts.update, parts.evaluation);

/** Parameters of the full model (growth ends there, so the state's size is its). */
export const fullParameters = (model: ViTConfig): number => parameterCount(model, model.depth);

/**
 * VOLO's count, by the same method, deliberately on the high side (it is the memory guard's
 * base): per outlooker and fine-grid token (4 per token) the stream, norms, values unfolded
 * into 9 windows over 4 locations, the pooled features, probabilities (heads × 81 per pooled
 * location), the folded output, the MLP's cache; the outlookers' backward working set; then
 * the transformer part as a ViT of the remaining depth with one more token for the class blocks.
 */
function voloActivationsPerImage(model: ViTConfig, volo: VoloShape, shape: ActivationShape): number {
  const [outlookers = 0, transformers = 0] = depthParts(model, shape.depth);
  const c = volo.outlookerWidth;
  const hidden = volo.outlookerMlpRatio * c;
  const fine = 4 * shape.tokens;
  const saved = 8 * c + 3 * hidden + (81 * volo.outlookerHeads) / 4 + 2;
  const backward = 32 * c + 6 * hidden + 81 * volo.outlookerHeads;
  const stem = 2 * c + volo.stemPatch ** 2 * model.channels;
  const transformerPart = activationsPerImage(
    { ...model, family: "vit", volo: undefined },
    { depth: transformers + volo.classBlocks, tokens: shape.tokens + 1 },
  );
  return fine * (outlookers * saved + backward + stem) + transformerPart;
}

/**
 * A ResNet's count, on the high side: per block and map element the input, two convolution
 * outputs, two GroupNorm outputs and normalised inputs, two ReLUs and the sum (10 maps of its
 * stage); per transition and the stem 4 maps; the backward working set of one block (10 maps at
 * the first stage's size). The input side comes back from the token count (grid² + 1 tokens).
 */
function resnetActivationsPerImage(model: ViTConfig, shape: ActivationShape): number {
  const resnet = resnetShapeOf(model);
  if (!resnet) throw new Error("not a ResNet config");
  const side = Math.round(Math.sqrt(Math.max(0, shape.tokens - 1))) * model.patchSize;
  const blocks = depthParts(model, shape.depth);
  let elements = 0;
  resnet.stageWidths.forEach((c, s) => {
    const map = Math.ceil(side / 2 ** s) ** 2 * c;
    elements += ((blocks[s] ?? 0) * 10 + 4) * map;
  });
  const first = side * side * (resnet.stageWidths[0] as number);
  return elements + 10 * first + side * side * model.channels;
}
