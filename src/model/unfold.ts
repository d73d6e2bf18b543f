import * as tf from "@tensorflow/tfjs";

/**
 * Outlook attention's unfold and fold for its one geometry (K = 3, stride 2, padding 1) on an
 * even H × W grid, written with pad, reshape and plain slices only: the wasm backend has no
 * gather gradient, runs strided slices as a JS loop and has no `Unfold`. Padding the grid by one
 * makes each axis (h + 1) pairs of rows, and kernel row i of output row y is pad row 2y + i =
 * pair y + ⌊i/2⌋, member i mod 2: a contiguous slice of the paired view. Fold is unfold's exact
 * adjoint (each is the other's backward pass), built from the same slices' adjoint pads.
 */

/** Kernel offset i ∈ {0, 1, 2} as (first pair, member within the pair). */
const OFFSETS = [
  [0, 0],
  [0, 1],
  [1, 0],
] as const;

export interface FoldGrid {
  readonly batch: number;
  /** Full grid side H = W (even). */
  readonly side: number;
  readonly channels: number;
}

function checkEven(grid: FoldGrid): number {
  if (grid.side % 2 !== 0) throw new Error(`outlook attention needs an even grid, got ${grid.side}`);
  return grid.side / 2;
}

/** [B, H, W, C] → [9, B·h·w·C] (kernel offset 3i + j major; h = H/2). */
export function unfold3x3s2(x: tf.Tensor, grid: FoldGrid): tf.Tensor2D {
  const { batch, channels: c } = grid;
  const h = checkEven(grid);
  return tf.tidy(() => {
    const padded = tf.pad(tf.reshape(x, [batch, 2 * h, 2 * h, c]), [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const rowPairs = tf.reshape(padded, [batch, h + 1, 2, (h + 1) * 2 * c]);
    const pieces: tf.Tensor[] = [];
    for (const [rowPair, rowMember] of OFFSETS) {
      const rows = tf.slice(rowPairs, [0, rowPair, rowMember, 0], [batch, h, 1, (h + 1) * 2 * c]);
      const colPairs = tf.reshape(rows, [batch * h, h + 1, 2, c]);
      for (const [colPair, colMember] of OFFSETS) {
        const piece = tf.slice(colPairs, [0, colPair, colMember, 0], [batch * h, h, 1, c]);
        pieces.push(tf.reshape(piece, [1, batch * h * h * c]));
      }
    }
    return tf.concat(pieces, 0) as tf.Tensor2D;
  });
}

/** The adjoint of unfold3x3s2: [9, B·h·w·C] → [B, H, W, C], overlapping entries summed. */
export function fold3x3s2(y: tf.Tensor, grid: FoldGrid): tf.Tensor4D {
  const { batch, channels: c } = grid;
  const h = checkEven(grid);
  return tf.tidy(() => {
    const pieces = tf.split(tf.reshape(y, [9, batch * h * h * c]), 9, 0);
    const rowParts = OFFSETS.map(([rowPair, rowMember], i) => {
      const cols = OFFSETS.map(([colPair, colMember], j) =>
        tf.pad(tf.reshape(pieces[3 * i + j] as tf.Tensor, [batch * h, h, 1, c]), [
          [0, 0],
          [colPair, 1 - colPair],
          [colMember, 1 - colMember],
          [0, 0],
        ]),
      ); // each [B·h, h + 1, 2, C]
      const row = tf.reshape(tf.addN(cols), [batch, h, 1, (h + 1) * 2 * c]);
      return tf.pad(row, [
        [0, 0],
        [rowPair, 1 - rowPair],
        [rowMember, 1 - rowMember],
        [0, 0],
      ]); // [B, h + 1, 2, (h + 1)·2·C]
    });
    const padded = tf.reshape(tf.addN(rowParts), [batch, 2 * h + 2, 2 * h + 2, c]);
    return tf.slice(padded, [0, 1, 1, 0], [batch, 2 * h, 2 * h, c]) as tf.Tensor4D;
  });
}
