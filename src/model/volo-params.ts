import { OUTLOOK_KERNEL, type VoloShape } from "../core/volo-config.ts";
import { depthParts, type ViTConfig, voloShapeOf } from "./config.ts";
import type { ParamSpec } from "./param-spec.ts";

/**
 * VOLO's parameters. Outlookers and transformer blocks share the growable `blocks.{i}.` list
 * (block i is an outlooker while i < o(held depth)); the stem, the down-sampling, the position
 * table, the class-attention blocks (`cls_blocks.{j}.`) and the head are copied unchanged by
 * every growth operator, like a ViT's stem and head.
 */

const spec = (name: string, shape: number[], init: ParamSpec["init"]): ParamSpec => ({
  name,
  shape,
  init,
  decay: name.endsWith(".w"),
});

const norm = (prefix: string, d: number): ParamSpec[] => [
  spec(`${prefix}.gamma`, [d], "ones"),
  spec(`${prefix}.beta`, [d], "zeros"),
];

const dense = (prefix: string, inputs: number, outputs: number, bias = true): ParamSpec[] => [
  spec(`${prefix}.w`, [inputs, outputs], "truncNormal"),
  ...(bias ? [spec(`${prefix}.b`, [outputs], "zeros")] : []),
];

export function requireVolo(config: ViTConfig): VoloShape {
  const volo = voloShapeOf(config);
  if (!volo) throw new Error("not a VOLO config");
  return volo;
}

/** Outlook attention's per-location logits: heads × K² × K² (as VOLO's `attn` layer). */
export const outlookLogits = (volo: VoloShape): number => volo.outlookerHeads * OUTLOOK_KERNEL ** 4;

/** An outlooker: LN, outlook attention (value without bias, logits, projection), LN, MLP. */
export function outlookerParamSpecs(config: ViTConfig, prefix: string): ParamSpec[] {
  const volo = requireVolo(config);
  const d = volo.outlookerWidth;
  return [
    ...norm(`${prefix}norm1`, d),
    ...dense(`${prefix}outlook.v`, d, d, false),
    ...dense(`${prefix}outlook.attn`, d, outlookLogits(volo)),
    ...dense(`${prefix}outlook.proj`, d, d),
    ...norm(`${prefix}norm2`, d),
    ...dense(`${prefix}mlp.fc1`, d, volo.outlookerMlpRatio * d),
    ...dense(`${prefix}mlp.fc2`, volo.outlookerMlpRatio * d, d),
  ];
}

export const classBlockPrefix = (index: number): string => `cls_blocks.${index}.`;

/** A class-attention block: the class token queries all tokens (no q/k/v bias, as in VOLO). */
export function classBlockParamSpecs(config: ViTConfig, index: number): ParamSpec[] {
  const p = classBlockPrefix(index);
  const d = config.width;
  return [
    ...norm(`${p}norm1`, d),
    ...dense(`${p}attn.q`, d, d, false),
    ...dense(`${p}attn.kv`, d, 2 * d, false),
    ...dense(`${p}attn.proj`, d, d),
    ...norm(`${p}norm2`, d),
    ...dense(`${p}mlp.fc1`, d, config.mlpRatio * d),
    ...dense(`${p}mlp.fc2`, config.mlpRatio * d, d),
  ];
}

/** Stem, down-sampling, position table (token grid only), class blocks, class token, head. */
export function voloStemAndHeadParamSpecs(config: ViTConfig): ParamSpec[] {
  const volo = requireVolo(config);
  const d1 = volo.outlookerWidth;
  const d = config.width;
  const tokenGrid = config.imageSize / config.patchSize;
  const classBlocks = Array.from({ length: volo.classBlocks }, (_, j) => classBlockParamSpecs(config, j));
  return [
    ...dense("embed.patch", volo.stemPatch * volo.stemPatch * config.channels, d1),
    ...dense("embed.down", 4 * d1, d),
    spec("embed.pos", [tokenGrid * tokenGrid, d], "truncNormal"),
    spec("embed.cls", [1, d], "truncNormal"),
    ...classBlocks.flat(),
    ...norm("norm", d),
    ...dense("head", d, config.numClasses),
  ];
}

/** True when growable block `index` of a model holding `depth` blocks is an outlooker. */
export function isOutlooker(config: ViTConfig, index: number, depth: number): boolean {
  return voloShapeOf(config) !== null && index < (depthParts(config, depth)[0] as number);
}
