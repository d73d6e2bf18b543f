/**
 * Every GPU buffer of the compiled step is made and destroyed here, so tests can count them
 * across steps, plans and growths (a leak shows as a live count that grows).
 */
export class BufferRegistry {
  created = 0;
  destroyed = 0;
  private readonly live = new Set<GPUBuffer>();

  constructor(readonly device: GPUDevice) {}

  get liveCount(): number {
    return this.live.size;
  }

  /** A storage buffer of `floats` floats (at least 4 bytes), copyable both ways. */
  storage(label: string, floats: number): GPUBuffer {
    return this.create({
      label,
      size: Math.max(16, Math.ceil((floats * 4) / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  create(descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = this.device.createBuffer(descriptor);
    this.created += 1;
    this.live.add(buffer);
    return buffer;
  }

  destroy(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) return;
    buffer.destroy();
    this.destroyed += 1;
  }

  destroyAll(buffers: Iterable<GPUBuffer>): void {
    for (const buffer of buffers) this.destroy(buffer);
  }

  /** Copies `floats` floats of `source` from `offset` bytes back to the host (waits for the GPU). */
  async read(source: GPUBuffer, offset: number, floats: number): Promise<Float32Array> {
    const size = Math.max(16, Math.ceil((floats * 4) / 16) * 16);
    const staging = this.create({
      label: "read",
      size,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(source, offset, staging, 0, Math.min(size, source.size - offset));
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const values = new Float32Array(staging.getMappedRange().slice(0, floats * 4));
      staging.unmap();
      return values;
    } finally {
      this.destroy(staging);
    }
  }
}

/** A range of one buffer, as a kernel binding sees it. */
export interface Region {
  readonly buffer: GPUBuffer;
  /** Bytes; a multiple of REGION_ALIGN_FLOATS · 4. */
  readonly offset: number;
  /** Bytes. */
  readonly size: number;
}

/** Binding offsets must be multiples of minStorageBufferOffsetAlignment (256 bytes at most). */
export const REGION_ALIGN_FLOATS = 64;

export const alignFloats = (floats: number): number =>
  Math.ceil(floats / REGION_ALIGN_FLOATS) * REGION_ALIGN_FLOATS;

/** The whole buffer as a region. */
export function wholeBuffer(buffer: GPUBuffer, floats: number): Region {
  return { buffer, offset: 0, size: Math.max(4, floats * 4) };
}
