import { afterEach, describe, expect, it } from "vitest";
import { dawnFlags } from "../../src/backend/select.ts";

/** The Dawn instance always allows unsafe APIs (the subgroup-matrix feature is hidden otherwise), merged with the user's flags. */
describe("Dawn instance flags", () => {
  const saved = process.env.AUTOPROG_DAWN_FLAGS;
  afterEach(() => {
    if (saved === undefined) delete process.env.AUTOPROG_DAWN_FLAGS;
    else process.env.AUTOPROG_DAWN_FLAGS = saved;
  });

  it.for([
    ["", ["enable-dawn-features=allow_unsafe_apis"]],
    ["backend=vulkan", ["backend=vulkan", "enable-dawn-features=allow_unsafe_apis"]],
    [
      "enable-dawn-features=disable_robustness backend=null",
      ["enable-dawn-features=disable_robustness,allow_unsafe_apis", "backend=null"],
    ],
    ["enable-dawn-features=allow_unsafe_apis", ["enable-dawn-features=allow_unsafe_apis"]],
  ] as const)("AUTOPROG_DAWN_FLAGS=%j", ([given, expected]) => {
    process.env.AUTOPROG_DAWN_FLAGS = given;
    expect(dawnFlags()).toEqual(expected);
  });
});
