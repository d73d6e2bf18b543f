/**
 * What a kernel module hands the plan builder: one compute shader and how to dispatch it, with no
 * GPU objects. Buffers are named by role; the plan binds each role to a range of its arena once.
 */
export interface KernelBinding {
  /** The buffer role ("qkv", "dQkv", "params", …), resolved by the plan. */
  readonly name: string;
  readonly access: "read" | "read_write" | "uniform";
}

export interface KernelSource {
  /** Names the pipeline in errors and profiles; equal code shares one pipeline. */
  readonly label: string;
  /** A complete WGSL module; bindings are @group(0) @binding(i) in the order of `bindings`. */
  readonly code: string;
  readonly entryPoint?: string;
  readonly bindings: readonly KernelBinding[];
  /** The workgroup grid of one dispatch. */
  readonly grid: readonly [number, number, number];
  /**
   * Per-dispatch u32 values (up to 16) for a binding named "dims" declared `uniform`
   * (`array<vec4<u32>, 4>`): shapes read at run time, so one pipeline serves every shape of a
   * kernel — software Vulkan compiles each distinct shader in seconds.
   */
  readonly constants?: readonly number[];
}
