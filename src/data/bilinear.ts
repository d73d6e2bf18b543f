/**
 * Bilinear resize of one HWC image in plain JS, with the convention of TF
 * `resizeBilinear(x, size, alignCorners=false, halfPixelCenters=true)`: output pixel o
 * samples source coordinate (o + 0.5) * in/out - 0.5, clamped to the image. Matching TF
 * exactly lets the data pipeline (JS, on bytes) and the token-growth downsample (tfjs, on
 * tensors) agree.
 */

interface AxisTaps {
  lower: Int32Array;
  upper: Int32Array;
  frac: Float64Array;
}

/** Source taps and weights along one axis, same arithmetic as tfjs' CPU kernel. */
function axisTaps(inSize: number, outSize: number): AxisTaps {
  const lower = new Int32Array(outSize);
  const upper = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  const ratio = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const source = ratio * (o + 0.5) - 0.5;
    const floor = Math.max(0, Math.floor(source));
    lower[o] = floor;
    upper[o] = Math.min(inSize - 1, Math.ceil(source));
    frac[o] = source - floor;
  }
  return { lower, upper, frac };
}

/**
 * Resizes `src` ([height, width, channels]) to [outHeight, outWidth, channels], written
 * into `out` starting at `outOffset`.
 */
export function resizeBilinear(
  src: Float32Array,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  out: Float32Array,
  outOffset = 0,
): void {
  if (src.length !== height * width * channels) {
    throw new RangeError(`source has ${src.length} values, expected ${height}x${width}x${channels}`);
  }
  if (out.length < outOffset + outHeight * outWidth * channels) {
    throw new RangeError(`output too small for ${outHeight}x${outWidth}x${channels} at offset ${outOffset}`);
  }
  if (height === outHeight && width === outWidth) {
    out.set(src, outOffset);
    return;
  }
  const rows = axisTaps(height, outHeight);
  const cols = axisTaps(width, outWidth);
  const rowStride = width * channels;
  let o = outOffset;
  for (let y = 0; y < outHeight; y++) {
    const top = (rows.lower[y] as number) * rowStride;
    const bottom = (rows.upper[y] as number) * rowStride;
    const fy = rows.frac[y] as number;
    for (let x = 0; x < outWidth; x++) {
      const left = (cols.lower[x] as number) * channels;
      const right = (cols.upper[x] as number) * channels;
      const fx = cols.frac[x] as number;
      for (let c = 0; c < channels; c++) {
        const topLeft = src[top + left + c] as number;
        const topRight = src[top + right + c] as number;
        const bottomLeft = src[bottom + left + c] as number;
        const bottomRight = src[bottom + right + c] as number;
        const upper = topLeft + (topRight - topLeft) * fx;
        const lower = bottomLeft + (bottomRight - bottomLeft) * fx;
        out[o++] = upper + (lower - upper) * fy;
      }
    }
  }
}
