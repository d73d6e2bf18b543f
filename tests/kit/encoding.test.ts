import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { base64Decode, base64Encode, base64urlDecode, base64urlEncode } from "../../src/kit/encoding.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("base64url", () => {
  it.each([
    // RFC 4648 §10's vectors: every length modulo 3, so no padding, one or two `=` dropped.
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ])("encodes %j as %j and back", (text, encoded) => {
    const input = new TextEncoder().encode(text);
    expect(base64urlEncode(input)).toBe(encoded);
    expect(base64urlDecode(encoded)).toEqual(input);
  });

  it("uses - and _ where base64 has + and /", () => {
    expect(base64Encode(bytes(0xfb, 0xff, 0xbf))).toBe("+/+/");
    expect(base64urlEncode(bytes(0xfb, 0xff, 0xbf))).toBe("-_-_");
    expect(base64urlDecode("-_-_")).toEqual(bytes(0xfb, 0xff, 0xbf));
    expect(base64urlEncode(bytes(0xff, 0xe0))).toBe("_-A");
  });

  it("reads padded input too", () => {
    expect(base64urlDecode("Zm8=")).toEqual(new TextEncoder().encode("fo"));
  });

  it("throws on characters outside the alphabet", () => {
    expect(() => base64urlDecode("a*b")).toThrow();
    expect(() => base64Decode("Zm9v!")).toThrow();
  });

  it("agrees with Node's Buffer on every byte value and on large inputs", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64urlEncode(all)).toBe(Buffer.from(all).toString("base64url"));
    // Past one String.fromCharCode chunk (32 KiB).
    const large = Uint8Array.from({ length: 100_001 }, (_, i) => (i * 7919) % 256);
    expect(base64Encode(large)).toBe(Buffer.from(large).toString("base64"));
    expect(Buffer.from(base64urlDecode(base64urlEncode(large))).equals(large)).toBe(true);
  });
});

describe("base64", () => {
  it("pads to a multiple of four characters", () => {
    expect(base64Encode(bytes(0x66))).toBe("Zg==");
    expect(base64Encode(bytes(0x66, 0x6f))).toBe("Zm8=");
    expect(base64Decode("Zg==")).toEqual(bytes(0x66));
  });
});
