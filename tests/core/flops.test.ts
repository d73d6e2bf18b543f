import { describe, expect, it } from "vitest";
import { forwardFlops, parameterCount } from "../../src/core/flops.ts";
import { TINY_CONFIG, TINY_VOLO } from "../helpers.ts";

describe("analytic FLOPs", () => {
  it("matches a hand count for an 8-px, patch-2, 8-wide, 3-deep model", () => {
    // grid 4 → 16 patches, 17 tokens, D = 8, MLP hidden 16, 3 classes. Multiply-adds:
    const embed = 16 * (2 * 2 * 1) * 8; //            512
    const qkv = 17 * 8 * 24; //                        3264
    const scores = 17 * 17 * 8; //                     2312
    const mix = 17 * 17 * 8; //                        2312
    const proj = 17 * 8 * 8; //                        1088
    const mlp = 2 * 17 * 8 * 16; //                    4352
    const head = 8 * 3; //                               24
    const macs = embed + 3 * (qkv + scores + mix + proj + mlp) + head;
    expect(macs).toBe(40520);
    expect(forwardFlops(TINY_CONFIG, 3, 8)).toBe(2 * 40520);
  });

  it("shrinks with depth and side: depth 1 at side 4 (2×2 grid, 5 tokens)", () => {
    const macs = 4 * 4 * 8 + (5 * 8 * 24 + 5 * 5 * 8 * 2 + 5 * 8 * 8 + 2 * 5 * 8 * 16) + 24;
    expect(forwardFlops(TINY_CONFIG, 1, 4)).toBe(2 * macs);
  });

  it("counts parameters of the full model", () => {
    // stem: patch 4·8 + 8, cls 8, pos 17·8; block: 2 norms 32, qkv 8·24+24, proj 64+8, fc1 8·16+16, fc2 16·8+8; head: norm 16, 8·3+3
    const stem = 32 + 8 + 8 + 136;
    const block = 32 + 216 + 72 + 144 + 136;
    const head = 16 + 27;
    expect(parameterCount(TINY_CONFIG, 3)).toBe(stem + 3 * block + head);
  });

  it("counts VOLO by part: 1 outlooker + 2 transformer blocks of the 3-block tiny VOLO at 8 px", () => {
    // Fine grid 4×4 (16 cells), pooled and token grid 2×2 (4), outlookers 4 wide / 2 heads,
    // tokens 8 wide, MLP hidden 8 (outlooker) and 16, 1 class block, 3 classes. Multiply-adds:
    const stem = 16 * (2 * 2 * 1) * 4; //                     256
    const outlooker =
      16 * 4 * 4 + // v                                        256
      4 * 4 * (2 * 81) + // attention logits                  2592
      4 * 81 * 4 + // 9×9 window mixing per channel           1296
      16 * 4 * 4 + // projection                               256
      2 * 16 * 4 * 8; // MLP                                  1024
    const merge = 4 * (4 * 4) * 8; //                           512
    const block = 4 * 8 * 24 + 2 * 4 * 4 * 8 + 4 * 8 * 8 + 2 * 4 * 8 * 16; // 2304
    const classBlock = 8 * 8 + 5 * 8 * 16 + 2 * 5 * 8 + 8 * 8 + 2 * 8 * 16; // 1104
    const head = 8 * 3;
    expect(forwardFlops(TINY_VOLO, 3, 8)).toBe(
      2 * (stem + outlooker + merge + 2 * block + classBlock + head),
    );
    // Depth 2 is 1 outlooker + 1 block: one transformer block's FLOPs less.
    expect(forwardFlops(TINY_VOLO, 3, 8) - forwardFlops(TINY_VOLO, 2, 8)).toBe(2 * block);
  });
});
