import type { ResNetShape } from "../core/resnet-config.ts";
import { depthParts, resnetShapeOf, type ViTConfig } from "./config.ts";
import type { ParamSpec } from "./param-spec.ts";

/**
 * The ResNet's parameter list (resnet.ts runs it): its own file so that params.ts lists a
 * ResNet's parameters without importing the network that imports params.ts.
 */

const spec = (name: string, shape: number[], init: ParamSpec["init"]): ParamSpec => ({
  name,
  shape,
  init,
  decay: name.endsWith(".w"),
});

/** A 3×3 convolution without bias ([9·C_in, C_out], taps row-major, channels inner) and its GroupNorm. */
const convNorm = (prefix: string, cin: number, cout: number): ParamSpec[] => [
  spec(`${prefix}conv.w`, [9 * cin, cout], "truncNormal"),
  spec(`${prefix}norm.gamma`, [cout], "ones"),
  spec(`${prefix}norm.beta`, [cout], "zeros"),
];

export function requireResNet(config: ViTConfig): ResNetShape {
  const resnet = resnetShapeOf(config);
  if (!resnet) throw new Error("not a ResNet config");
  return resnet;
}

/** The stage of growable block `index` of a model holding `depth` blocks. */
export function blockStage(config: ViTConfig, index: number, depth: number): number {
  let end = 0;
  const parts = depthParts(config, depth);
  for (let s = 0; s < parts.length; s++) {
    end += parts[s] as number;
    if (index < end) return s;
  }
  throw new Error(`block ${index} is outside a ${depth}-block ResNet`);
}

/** A basic block of its stage's width: two convolution + GroupNorm pairs. */
export function resnetBlockParamSpecs(
  config: ViTConfig,
  index: number,
  depth: number,
  p: string,
): ParamSpec[] {
  const c = requireResNet(config).stageWidths[blockStage(config, index, depth)] as number;
  return [...convNorm(`${p}1.`, c, c), ...convNorm(`${p}2.`, c, c)];
}

/** The stem, the stride-2 transitions into stages 1.., and the head. */
export function resnetStemAndHeadParamSpecs(config: ViTConfig): ParamSpec[] {
  const widths = requireResNet(config).stageWidths;
  const last = widths.at(-1) as number;
  return [
    ...convNorm("stem.", config.channels, widths[0] as number),
    ...widths.slice(1).flatMap((c, s) => convNorm(`down.${s + 1}.`, widths[s] as number, c)),
    spec("head.w", [last, config.numClasses], "truncNormal"),
    spec("head.b", [config.numClasses], "zeros"),
  ];
}
