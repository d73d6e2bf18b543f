import { describe, expect, it } from "vitest";
import { encodeSafetensors } from "../../src/kit/safetensors.ts";

const f32 = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

describe("encodeSafetensors", () => {
  it("writes the length, a space-padded JSON header and the data at an 8-byte boundary, exactly", () => {
    const file = encodeSafetensors(
      [
        { name: "a", dtype: "F32", shape: [2], bytes: f32(1, 2) },
        { name: "s", dtype: "F32", shape: [], bytes: f32(3) },
      ],
      { format: "t" },
    );
    const json =
      '{"__metadata__":{"format":"t"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"s":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}';
    const padded = json.padEnd(Math.ceil(json.length / 8) * 8, " ");
    const view = new DataView(file.buffer);
    expect(view.getBigUint64(0, true)).toBe(BigInt(padded.length));
    expect(new TextDecoder().decode(file.subarray(8, 8 + padded.length))).toBe(padded);
    expect([...new Float32Array(file.slice(8 + padded.length).buffer)]).toEqual([1, 2, 3]);
    expect(file.byteLength).toBe(8 + padded.length + 12);
  });

  it("leaves __metadata__ out when there is none, and refuses a wrong size or a name used twice", () => {
    const file = encodeSafetensors([{ name: "a", dtype: "F32", shape: [0], bytes: new Uint8Array(0) }]);
    expect(new TextDecoder().decode(file.subarray(8)).trim()).toBe(
      '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}',
    );
    expect(() => encodeSafetensors([{ name: "a", dtype: "F32", shape: [3], bytes: f32(1, 2) }])).toThrow(
      "tensor a of shape [3] needs 3 F32 values, has 8 bytes",
    );
    const twice = { name: "a", dtype: "F32" as const, shape: [1], bytes: f32(1) };
    expect(() => encodeSafetensors([twice, twice])).toThrow("reserved or used twice");
    expect(() => encodeSafetensors([{ ...twice, name: "__metadata__" }])).toThrow("reserved");
  });
});
