import * as tf from "@tensorflow/tfjs";

/**
 * Position table resizing for token growth (autoprog-spec §2). One table covers the full grid;
 * for a g×g grid the patch part is resized with the differentiable matrix form A · P · Aᵀ so
 * gradients flow back into the one table. A is bilinear with half-pixel centres — the same
 * weights as TF's resizeBilinear(alignCorners=false, halfPixelCenters=true). The reference uses
 * bicubic; bilinear is our documented deviation. The class-token row is never resized.
 */

/** Row-stochastic [outSize, inSize] matrix of bilinear half-pixel interpolation weights. */
export function bilinearMatrix(outSize: number, inSize: number): Float32Array {
  const matrix = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let out = 0; out < outSize; out++) {
    const source = (out + 0.5) * scale - 0.5;
    const floor = Math.floor(source);
    const lower = Math.max(floor, 0);
    const upper = Math.min(Math.ceil(source), inSize - 1);
    const lerp = source - floor;
    matrix[out * inSize + lower] = (matrix[out * inSize + lower] ?? 0) + 1 - lerp;
    matrix[out * inSize + upper] = (matrix[out * inSize + upper] ?? 0) + lerp;
  }
  return matrix;
}

/**
 * Table [1 + G², D] → [1 + g², D]; returns the table itself when g = G. Works both ways:
 * g < G for the small stages, g > G for testing at a larger input than trained.
 */
export function resizePosEmbed(table: tf.Tensor2D, grid: number): tf.Tensor2D {
  const [rows, width] = table.shape;
  const fullGrid = Math.round(Math.sqrt(rows - 1));
  if (fullGrid * fullGrid !== rows - 1) throw new Error(`position table has ${rows} rows, not 1 + G²`);
  if (grid === fullGrid) return table;
  return tf.tidy(() => {
    const cls = tf.slice(table, [0, 0], [1, width]);
    const patches = tf.slice(table, [1, 0], [rows - 1, width]) as tf.Tensor2D; // [G·G, D] row-major (h, w)
    return tf.concat([cls, resizePosGrid(patches, grid)], 0);
  });
}

/** A table of grid positions only, [G², D] → [g², D] (VOLO's table has no class-token row). */
export function resizePosGrid(patches: tf.Tensor2D, grid: number): tf.Tensor2D {
  const [rows, width] = patches.shape;
  const fullGrid = Math.round(Math.sqrt(rows));
  if (fullGrid * fullGrid !== rows) throw new Error(`position grid has ${rows} rows, not G²`);
  if (grid === fullGrid) return patches;
  return tf.tidy(() => {
    const resize = tf.tensor2d(bilinearMatrix(grid, fullGrid), [grid, fullGrid]);
    // Along h: [g, G] · [G, G·D] → [g, G·D] = (h', w, D)
    const alongH = tf.matMul(resize, tf.reshape(patches, [fullGrid, fullGrid * width]));
    // Swap axes to (w, h', D), then along w: [g, G] · [G, g·D] → (w', h', D)
    const swapped = tf.reshape(tf.transpose(tf.reshape(alongH, [grid, fullGrid, width]), [1, 0, 2]), [
      fullGrid,
      grid * width,
    ]);
    const alongW = tf.matMul(resize, swapped);
    const grid2d = tf.transpose(tf.reshape(alongW, [grid, grid, width]), [1, 0, 2]); // (h', w', D)
    return tf.reshape(grid2d, [grid * grid, width]) as tf.Tensor2D;
  });
}
