import { describe, expect, it } from "vitest";
import { forwardFlops, parameterCount } from "../../src/core/flops.ts";
import { TINY_CONFIG } from "../helpers.ts";

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
});
