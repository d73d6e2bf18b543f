/**
 * The safetensors format (the one Hugging Face and timm load), written here because it is
 * eight bytes and a JSON header away from raw data and the API must write it on Workers too:
 *
 *   header length N (uint64, little-endian) · N bytes of JSON header · the tensors' bytes
 *
 * The header maps each tensor's name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * into the data, which the tensors cover contiguously, in order, with no gap) and may hold a
 * `__metadata__` map of strings. It is padded with spaces so the data starts at a multiple of
 * 8 bytes, as the reference writer does. Values are little-endian and row-major.
 */

/** The dtypes we write (every weight we hold is float32). */
export type SafetensorsDtype = "F32";

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4 };

/** The metadata key of the format; no tensor may take it. */
export const SAFETENSORS_METADATA = "__metadata__";

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The values' bytes, little-endian, row-major. */
  readonly bytes: Uint8Array;
}

/** The bytes of a safetensors file holding `tensors` in the order given, with `metadata`. */
export function encodeSafetensors(
  tensors: readonly SafetensorsTensor[],
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[SAFETENSORS_METADATA] = metadata;
  let offset = 0;
  for (const tensor of tensors) {
    if (tensor.name === SAFETENSORS_METADATA || Object.hasOwn(header, tensor.name))
      throw new Error(`tensor name ${tensor.name} is reserved or used twice`);
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    if (tensor.bytes.byteLength !== elements * BYTES_PER_ELEMENT[tensor.dtype])
      throw new Error(
        `tensor ${tensor.name} of shape [${tensor.shape}] needs ${elements} ${tensor.dtype} values, has ${tensor.bytes.byteLength} bytes`,
      );
    header[tensor.name] = {
      dtype: tensor.dtype,
      shape: [...tensor.shape],
      data_offsets: [offset, offset + tensor.bytes.byteLength],
    };
    offset += tensor.bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const file = new Uint8Array(8 + headerLength + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerLength), true);
  file.set(json, 8);
  file.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let at = 8 + headerLength;
  for (const tensor of tensors) {
    file.set(tensor.bytes, at);
    at += tensor.bytes.byteLength;
  }
  return file;
}
