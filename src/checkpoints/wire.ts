/**
 * The checkpoint wire format of `PUT/GET /v1/runs/{id}/checkpoints/{epoch}`: one epoch
 * checkpoint (its meta and data files, src/core/checkpoint-layout.ts) as one
 * `application/octet-stream` body:
 *
 *   "APC1" (4 bytes) · meta length N (uint32, big-endian) · N bytes of meta JSON (UTF-8) · data
 *
 * No Node module here: the Workers entry reads and writes it too.
 */
const MAGIC = new TextEncoder().encode("APC1");
const HEADER_BYTES = MAGIC.length + 4;

export interface CheckpointParts {
  /** The meta file's bytes (JSON). */
  readonly meta: Uint8Array;
  /** The tensor data file's bytes. */
  readonly data: Uint8Array;
}

export class CheckpointFormatError extends Error {
  override readonly name = "CheckpointFormatError";
}

export function packCheckpoint({ meta, data }: CheckpointParts): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(HEADER_BYTES + meta.length + data.length);
  body.set(MAGIC, 0);
  new DataView(body.buffer).setUint32(MAGIC.length, meta.length, false);
  body.set(meta, HEADER_BYTES);
  body.set(data, HEADER_BYTES + meta.length);
  return body;
}

/** The two files of a packed checkpoint; throws CheckpointFormatError on anything else. */
export function unpackCheckpoint(body: Uint8Array): CheckpointParts {
  if (body.length < HEADER_BYTES || MAGIC.some((byte, i) => body[i] !== byte)) {
    throw new CheckpointFormatError('the body does not start with the checkpoint magic "APC1"');
  }
  const metaLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(
    MAGIC.length,
    false,
  );
  if (HEADER_BYTES + metaLength > body.length) {
    throw new CheckpointFormatError(`the meta length ${metaLength} runs past the body's end`);
  }
  return {
    meta: body.subarray(HEADER_BYTES, HEADER_BYTES + metaLength),
    data: body.subarray(HEADER_BYTES + metaLength),
  };
}

/**
 * The epoch a checkpoint's meta says it covers, checked so a store never files a checkpoint
 * under another epoch's name.
 */
export function checkpointEpochOf(parts: CheckpointParts): number {
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder().decode(parts.meta));
  } catch {
    throw new CheckpointFormatError("the checkpoint meta is not JSON");
  }
  const epoch = (meta as { epoch?: unknown } | null)?.epoch;
  if (typeof epoch !== "number" || !Number.isInteger(epoch) || epoch < 0) {
    throw new CheckpointFormatError("the checkpoint meta has no epoch");
  }
  return epoch;
}
