import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matmulFamilyFor, SUBGROUP_MATRIX_FEATURE } from "../../../src/backend/compiled/device.ts";
import {
  type MatmulEpilogue,
  type MatmulFamily,
  matmul,
} from "../../../src/backend/compiled/kernels/matmul.ts";
import { compileErrors, nullBackendDevice } from "./harness.ts";

/**
 * The subgroup-matrix (tensor-core) matmuls compile on Dawn's null backend, which validates and
 * compiles WGSL without computing: no software adapter offers subgroup matrices (lavapipe lists no
 * configuration), so this is what keeps a broken shader out on a machine without a GPU. Their
 * numbers are checked only where an adapter has the feature (bench/gpu-check.sh). The null adapter
 * allows 8 storage buffers per stage: the one kernel binding 9 (residual with keep, ReZero and the
 * saved branch) is compiled as a module there, the rest into pipelines.
 */
let device: GPUDevice | null = null;
let subgroupSize = 0;
beforeAll(async () => {
  const found = await nullBackendDevice();
  device = found.device;
  subgroupSize = found.subgroupMaxSize;
});
afterAll(() => device?.destroy());

const EPILOGUES: readonly MatmulEpilogue[] = [
  { kind: "store", bias: false },
  { kind: "store", bias: true },
  { kind: "gelu" },
  { kind: "residual", tokens: 5, keep: true, rezero: true, saveBranch: true },
  { kind: "residual", tokens: 5, keep: true, rezero: true, saveBranch: false },
  { kind: "residual", tokens: 5, keep: false, rezero: false, saveBranch: false },
  { kind: "embed", tokens: 5 },
  { kind: "geluGrad" },
  { kind: "weightGrad", splits: 1 },
  { kind: "weightGrad", splits: 3 },
];

describe("subgroup-matrix matmuls on Dawn's null backend", () => {
  it("every epilogue and storage order compiles into a pipeline (16×16×16 and 8×8×16 configurations)", async () => {
    if (!device) throw new Error("no null device");
    const failures: string[] = [];
    for (const [m, n, k] of [
      [16, 16, 16],
      [8, 8, 16],
    ] as const) {
      const family: MatmulFamily = { kind: "subgroupMatrix", m, n, k, subgroupSize };
      for (const epilogue of EPILOGUES) {
        const weightGrad = epilogue.kind === "weightGrad";
        for (const a of weightGrad ? (["transposed"] as const) : (["rowMajor", "transposed"] as const)) {
          for (const b of ["rowMajor", "transposed"] as const) {
            const kernel = matmul(
              `${epilogue.kind}.${a}.${b}`,
              { rows: 40, cols: 48, depth: 33, a, b },
              epilogue,
              family,
            );
            expect(kernel.code).toContain("subgroupMatrixMultiplyAccumulate");
            const errors = await compileErrors(device, kernel);
            if (errors.length) failures.push(`${m}×${n}×${k} ${kernel.label}: ${errors.join("; ")}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("a shader that misuses the builtins fails here (the check can fail)", async () => {
    if (!device) throw new Error("no null device");
    const family: MatmulFamily = { kind: "subgroupMatrix", m: 16, n: 16, k: 16, subgroupSize };
    const good = matmul(
      "good",
      { rows: 40, cols: 48, depth: 33, a: "rowMajor", b: "rowMajor" },
      { kind: "store", bias: false },
      family,
    );
    const broken = {
      ...good,
      label: "broken",
      code: good.code.replace("subgroup_matrix_right<f16", "subgroup_matrix_left<f16"),
    };
    expect(await compileErrors(device, broken)).not.toEqual([]);
  });

  it("the family is chosen by the adapter: subgroup matrix where an f16→f32 configuration exists, else f16 tiles with shader-f16, else fp32", () => {
    const limits = {} as GPUSupportedLimits;
    const f16f32 = { componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 };
    const f16f16 = { ...f16f32, resultComponentType: "f16" };
    const all = new Set(["shader-f16", "subgroups", SUBGROUP_MATRIX_FEATURE]);
    const nvidia = {
      features: all,
      limits,
      info: { subgroupMaxSize: 32, subgroupMatrixConfigs: [f16f16, f16f32] },
    };
    expect(matmulFamilyFor(nvidia, "mixed")).toEqual({
      kind: "subgroupMatrix",
      m: 16,
      n: 16,
      k: 16,
      subgroupSize: 32,
    });
    expect(matmulFamilyFor(nvidia, "fp32")).toEqual({ kind: "fp32" });
    expect(
      matmulFamilyFor({ ...nvidia, info: { subgroupMaxSize: 32, subgroupMatrixConfigs: [f16f16] } }, "mixed"),
    ).toEqual({ kind: "f16" });
    const lavapipe = {
      features: new Set(["shader-f16", "subgroups"]),
      limits,
      info: { subgroupMaxSize: 8, subgroupMatrixConfigs: [] },
    };
    expect(matmulFamilyFor(lavapipe, "mixed")).toEqual({ kind: "f16" });
    expect(matmulFamilyFor({ features: new Set<string>(), limits }, "mixed")).toEqual({ kind: "fp32" });
  });
});
