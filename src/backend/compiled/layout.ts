import { alignFloats } from "./buffers.ts";

/**
 * Where each named weight lives in the compiled step's flat buffers (parameters, gradients,
 * moments, every EMA): in the trainer's order, each weight at a 256-byte boundary so a kernel can
 * bind it as its own range. The padding is zero in every buffer and stays zero (no gradient, and
 * decay of zero is zero).
 */
export interface ParamEntry {
  readonly name: string;
  readonly shape: readonly number[];
  /** Floats from the buffer's start. */
  readonly offset: number;
  readonly size: number;
}

export class ParamLayout {
  readonly entries: readonly ParamEntry[];
  /** Floats in one flat buffer, padding included. */
  readonly size: number;
  private readonly byName: ReadonlyMap<string, ParamEntry>;

  constructor(shapes: Iterable<readonly [string, readonly number[]]>) {
    const entries: ParamEntry[] = [];
    let offset = 0;
    for (const [name, shape] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      entries.push({ name, shape: [...shape], offset, size });
      offset += alignFloats(size);
    }
    this.entries = entries;
    this.size = offset;
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ParamEntry {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`compiled step: no weight ${name}`);
    return entry;
  }

  /** Named values → one flat array (padding and missing names zero). */
  pack(values: ReadonlyMap<string, Float32Array>): Float32Array {
    const flat = new Float32Array(this.size);
    for (const [name, data] of values) {
      const entry = this.entry(name);
      if (data.length !== entry.size) throw new Error(`${name}: ${data.length} values for ${entry.size}`);
      flat.set(data, entry.offset);
    }
    return flat;
  }

  /** One flat array → named copies. */
  unpack(flat: Float32Array): Map<string, Float32Array> {
    return new Map(this.entries.map((e) => [e.name, flat.slice(e.offset, e.offset + e.size)]));
  }

  /** Per float: 0 where `active` rejects the weight (and in padding), else 1, or 2 when decayed. */
  flags(active: (name: string) => boolean, decayed: (name: string) => boolean): Float32Array {
    const flags = new Float32Array(this.size);
    for (const e of this.entries) {
      if (active(e.name)) flags.fill(decayed(e.name) ? 2 : 1, e.offset, e.offset + e.size);
    }
    return flags;
  }
}
