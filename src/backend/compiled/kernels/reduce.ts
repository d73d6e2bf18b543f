import type { KernelBinding, KernelSource } from "../kernel.ts";
import { declareBindings, grid1d, LINEAR_WORKGROUP } from "./wgsl.ts";

/**
 * Adds up split partial sums ("partials", [splits, length]) and writes consecutive segments of
 * the result to their own bindings (a weight gradient then its bias gradient; γ then β).
 */
export function sumPartials(
  label: string,
  splits: number,
  segments: readonly { readonly name: string; readonly length: number }[],
): KernelSource {
  const length = segments.reduce((sum, s) => sum + s.length, 0);
  const bindings: KernelBinding[] = [
    { name: "partials", access: "read" },
    ...segments.map((s): KernelBinding => ({ name: s.name, access: "read_write" })),
  ];
  let offset = 0;
  const writes = segments
    .map((segment) => {
      const from = offset;
      offset += segment.length;
      return `if (index >= ${from}u && index < ${offset}u) { ${segment.name}[index - ${from}u] = total; }`;
    })
    .join("\n  ");
  const code = `
${declareBindings(bindings)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let index = ${LINEAR_WORKGROUP} * 256u + lane;
  if (index >= ${length}u) { return; }
  var total = 0.0;
  for (var s = 0u; s < ${splits}u; s = s + 1u) { total = total + partials[s * ${length}u + index]; }
  ${writes}
}`;
  return { label, code, bindings, grid: grid1d(Math.ceil(length / 256)) };
}
