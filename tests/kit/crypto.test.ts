import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { randomBytes, randomToken, sha256Hex } from "../../src/kit/crypto.ts";
import { base64urlDecode } from "../../src/kit/encoding.ts";

describe("sha256Hex", () => {
  it("is FIPS 180-2's digest of 'abc' and of the empty string", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("hashes the UTF-8 bytes, as node:crypto does", async () => {
    const text = "größe ✓";
    expect(await sha256Hex(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
    expect(await sha256Hex(new TextEncoder().encode(text))).toBe(await sha256Hex(text));
  });
});

describe("random tokens", () => {
  it("are the prefix and the bytes in base64url", () => {
    const token = randomToken("lt_", 24);
    expect(token).toMatch(/^lt_[A-Za-z0-9_-]{32}$/);
    expect(base64urlDecode(token.slice(3))).toHaveLength(24);
    expect(randomToken("ap_", 32)).toMatch(/^ap_[A-Za-z0-9_-]{43}$/);
  });

  it("differ from call to call", () => {
    const tokens = new Set(Array.from({ length: 100 }, () => randomToken("", 16)));
    expect(tokens.size).toBe(100);
    expect(randomBytes(16)).toHaveLength(16);
  });
});
