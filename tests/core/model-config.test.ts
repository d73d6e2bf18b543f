import { describe, expect, it } from "vitest";
import { forwardFlops } from "../../src/core/flops.ts";
import { tokenCount, tokensOfGrid } from "../../src/core/model-config.ts";
import { limitIssues } from "../../src/core/spec-limits.ts";
import { TINY_CONFIG } from "../helpers.ts";

describe("the token count", () => {
  it("is the patches of the grid and the class token", () => {
    expect(tokensOfGrid(4)).toBe(17);
    expect(tokenCount({ patchSize: 2 }, 8)).toBe(17);
    expect(tokenCount({ patchSize: 16 }, 512)).toBe(1025);
  });

  it("refuses a side the patch does not divide, in the FLOPs count too", () => {
    expect(() => tokenCount({ patchSize: 4 }, 30)).toThrow(
      "input side 30 is not a multiple of the patch size 4",
    );
    expect(() => forwardFlops(TINY_CONFIG, 1, 7)).toThrow("not a multiple of the patch size");
  });

  it("is what the spec's token ceiling counts (1025 passes, 1090 does not)", () => {
    const model = { ...TINY_CONFIG, patchSize: 8, imageSize: 256 };
    const training = { batchSize: 1, evalSides: [264] };
    expect(limitIssues(model, training, "variant")).toEqual([
      { path: ["training", "evalSides", 0], message: "1090 tokens per image; at most 1025" },
    ]);
  });
});
